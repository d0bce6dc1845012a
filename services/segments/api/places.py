"""Places: the cities the customers live in, for the console's place search in geo rules.

A place is an aggregate, never a person: one row per (city, country) with how
many customers there have a location, and the centre of those locations
rounded to 0.01° (about 1 km). An analyst sees only places with at least
``ANALYST_MIN_PEOPLE`` customers: with one or two people the centre would be
their home, to within a kilometre (marketers see personal data anyway).
"""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Float, Integer, List, Nested, String

from services.segments import profile_reads
from services.segments.api.schemas import PlacesIn
from services.segments.profile_reads import ANALYST_MIN_PEOPLE
from shared.http.auth import current_role, roles

bp = APIBlueprint("places", __name__, tag="places")

__all__ = ["ANALYST_MIN_PEOPLE", "bp"]


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
    items = profile_reads.places(query_data["q"], current_role() == "analyst", query_data["limit"])
    return {"items": items}
