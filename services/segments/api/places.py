"""Places: the cities the customers live in, for the console's place search in geo rules.

A place is an aggregate, never a person: one row per (city, country) with how
many customers there have a location, and the centre of those locations
rounded to 0.01° (about 1 km). An analyst sees only places with at least
``ANALYST_MIN_PEOPLE`` customers: with one or two people the centre would be
their home, to within a kilometre (marketers see personal data anyway).
"""

from __future__ import annotations

import re

from apiflask import APIBlueprint, Schema
from apiflask.fields import Float, Integer, List, Nested, String
from apiflask.validators import Length, Range

from shared import normalize
from shared.http.auth import current_role, roles
from shared.models import Customer

bp = APIBlueprint("places", __name__, tag="places")

ANALYST_MIN_PEOPLE = 5
SCANNED = 20_000  # located customers read per search, at most (the busiest cities first is not needed)


class PlacesIn(Schema):
    q = String(
        required=True,
        validate=Length(min=1, max=100),
        metadata={"description": "start of a city's name; accents and case ignored ('mala' finds Málaga)"},
    )
    limit = Integer(load_default=10, validate=Range(min=1, max=50))


class PlaceOut(Schema):
    city = String(metadata={"example": "Málaga"})
    country = String(allow_none=True, metadata={"example": "ES"})
    lat = Float(metadata={"description": "centre of the customers' locations there, rounded to 0.01°"})
    lng = Float()
    count = Integer(metadata={"description": "customers there with a location"})


class PlacesOut(Schema):
    items = List(Nested(PlaceOut))


@bp.get("/places")
@bp.input(PlacesIn, location="query")
@bp.output(PlacesOut)
@bp.doc(
    description=(
        "Cities the customers live in whose name starts with `q`, with a representative point "
        "for a `near` rule. Aggregates only: analysts see places with at least "
        f"{ANALYST_MIN_PEOPLE} customers. Most customers first."
    )
)
@roles("marketer", "analyst", "community_manager")
def search_places(query_data):
    """Cities (with customers that have a location) by name prefix, with a point and a count."""
    key = normalize.fold(normalize.text(query_data["q"]))
    rows = Customer._get_collection().find(
        {
            "erased": {"$ne": True},
            "city_key": {"$regex": "^" + re.escape(key)},
            "location": {"$exists": True, "$ne": None},
        },
        {"city": 1, "city_key": 1, "country": 1, "location": 1},
        limit=SCANNED,
    )
    places: dict[tuple, dict] = {}
    for row in rows:
        try:
            lng, lat = (float(v) for v in row["location"]["coordinates"])
        except (KeyError, TypeError, ValueError):
            continue
        place = places.setdefault(
            (row.get("city_key"), row.get("country")),
            {"city": row.get("city"), "country": row.get("country"), "lat": 0.0, "lng": 0.0, "count": 0},
        )
        place["lat"] += lat
        place["lng"] += lng
        place["count"] += 1
    least = ANALYST_MIN_PEOPLE if current_role() == "analyst" else 1
    items = []
    for place in places.values():
        if place["count"] < least:
            continue
        n = place["count"]
        items.append({**place, "lat": round(place["lat"] / n, 2), "lng": round(place["lng"] / n, 2)})
    items.sort(key=lambda p: (-p["count"], p["city"] or ""))
    return {"items": items[: query_data["limit"]]}
