"""What the API reads about customers: search, the 360 view, the whole timeline, and the places
they live in.

The rules of what a role may read live here: an analyst may not search on a
personal field (a count would unmask what the answer masks), searches first
names only, and sees a place only with at least ``ANALYST_MIN_PEOPLE``
customers (with one or two people its centre would be their home). The same floor
holds for an analyst's preview of a rule with ``near`` conditions: each circle must
hold no customer or at least ``ANALYST_MIN_PEOPLE`` (``near_floor``), and be at least
``ANALYST_MIN_KM`` wide (rule_behaviour.py), else 422 naming its ``km``.
"""

from __future__ import annotations

import re

from services.segments.errors import InvalidFields
from services.segments.rules import accent_tolerant, compile_rule
from services.segments.store import customers as store
from services.segments.store import segments as segment_store
from services.segments.store import timeline as timeline_store
from shared import normalize
from shared.audience import EXCLUDED
from shared.personal import is_personal, mask_value

ANALYST_MIN_PEOPLE = 5
SCANNED = 20_000  # located customers read per search, at most (the busiest cities first is not needed)


def search_query(query: dict, default_country: str, analyst: bool) -> dict:
    """The customers filter of a search by email, phone, name prefix, tag or stage."""
    conditions: list[dict] = [{"erased": {"$ne": True}}]
    if analyst:
        # a search is a count: on a personal field it would unmask what the answer masks
        refused = {
            name: ["is personal data: your role may not search on it"]
            for name in ("email", "phone")
            if query.get(name) and is_personal(name)
        }
        if refused:
            raise InvalidFields(refused, location="query")
    if query.get("email"):
        conditions.append({"email": normalize.email_key(query["email"])})
    if query.get("phone"):
        try:
            conditions.append({"phone": normalize.phone(query["phone"], default_country)})
        except ValueError as exc:
            raise InvalidFields({"phone": [str(exc)]}, location="query") from None
    if query.get("name") and analyst:
        # first names only: name_key and last_name_key hold the (personal) last name
        prefix = "^" + accent_tolerant(normalize.fold(normalize.text(query["name"])))
        conditions.append({"first_name": {"$regex": prefix, "$options": "i"}})
    elif query.get("name"):
        prefix = "^" + re.escape(normalize.fold(normalize.text(query["name"])))
        conditions.append({"$or": [{"name_key": {"$regex": prefix}}, {"last_name_key": {"$regex": prefix}}]})
    if query.get("tag"):
        conditions.append({"tags": query["tag"]})
    if query.get("stage"):
        conditions.append({"stage": query["stage"]})
    return {"$and": conditions}


def search(query: dict, default_country: str, analyst: bool, limit: int, after):
    """(profiles, total, next cursor) of a search."""
    return store.page_customers(search_query(query, default_country, analyst), limit, after)


def rule_as_seen(rule, analyst: bool):
    """A segment's rule, for an analyst with the values of conditions on personal fields
    masked: a marketer's rule may name people by their address or phone."""
    if not analyst or not isinstance(rule, dict):
        return rule
    out = {}
    for key, value in rule.items():
        if key in ("all", "any") and isinstance(value, list):
            out[key] = [rule_as_seen(child, analyst) for child in value]
        elif key == "not":
            out[key] = rule_as_seen(value, analyst)
        else:
            out[key] = value
    field = rule.get("field")
    if isinstance(field, str) and is_personal(field) and "value" in rule:
        leaf = "handle" if field.startswith("social.") else field.split(".")[-1]
        value = rule["value"]
        out["value"] = (
            [mask_value(leaf, v) for v in value] if isinstance(value, list) else mask_value(leaf, value)
        )
    return out


def consents(customer_id) -> list[dict]:
    return [
        {"channel": s.channel, "topic": s.topic, "status": s.status, "at": s.at}
        for s in store.consents_of(customer_id)
    ]


def memberships(customer_id) -> list[dict]:
    """The segments the customer is in, with the time they entered."""
    rows = segment_store.memberships_of(customer_id)
    names = segment_store.segments_by_ids([m.segment_id for m in rows])
    return [
        {
            "id": str(m.segment_id),
            "name": names[m.segment_id].name,
            "kind": names[m.segment_id].kind,
            "since": m.since,
        }
        for m in rows
        if m.segment_id in names
    ]


def _entry(item) -> dict:
    """One timeline entry as the API shows it, without empty fields."""
    entry = {
        "kind": item.kind,
        "at": item.at,
        "channel": item.channel,
        "campaign_id": item.campaign_id,
        "summary": item.summary,
    }
    if item.sentiment is not None:
        entry["sentiment"] = item.sentiment
    if item.amount is not None:
        entry["amount"], entry["currency"] = float(item.amount), item.currency
    if item.data:
        entry["data"] = item.data
    return {k: v for k, v in entry.items() if v is not None}


def interactions(customer_id, limit: int) -> list[dict]:
    """The latest interactions, newest first, without empty fields."""
    return [_entry(item) for item in store.latest_interactions(customer_id, limit)]


def timeline_page(customer_id, limit: int, after) -> tuple[list[dict], int, str | None]:
    """(entries with their id, total, next cursor) of the customer's whole timeline, in the
    order segments recorded them (``_id``): a stable order, so paging misses nothing."""
    rows, total, following = timeline_store.entries_page(customer_id, limit, after)
    return [{"id": str(item.id), **_entry(item)} for item in rows], total, following


def places(prefix: str, analyst: bool, limit: int) -> list[dict]:
    """Cities whose name starts with ``prefix``: the centre of their customers' locations
    (rounded to 0.01°) and how many; most customers first."""
    key = normalize.fold(normalize.text(prefix))
    found: dict[tuple, dict] = {}
    for row in store.located_customers("^" + re.escape(key), SCANNED):
        try:
            lng, lat = (float(v) for v in row["location"]["coordinates"])
        except (KeyError, TypeError, ValueError):
            continue
        place = found.setdefault(
            (row.get("city_key"), row.get("country")),
            {"city": row.get("city"), "country": row.get("country"), "lat": 0.0, "lng": 0.0, "count": 0},
        )
        place["lat"] += lat
        place["lng"] += lng
        place["count"] += 1
    least = ANALYST_MIN_PEOPLE if analyst else 1
    items = []
    for place in found.values():
        if place["count"] < least:
            continue
        n = place["count"]
        items.append({**place, "lat": round(place["lat"] / n, 2), "lng": round(place["lng"] / n, 2)})
    items.sort(key=lambda p: (-p["count"], p["city"] or ""))
    return items[:limit]


def _near_conditions(node, path: str = "rule"):
    """(path, body) of every near condition of a rule compile_rule accepted."""
    if not isinstance(node, dict):
        return
    for kind in ("all", "any"):
        if isinstance(node.get(kind), list):
            for i, child in enumerate(node[kind]):
                yield from _near_conditions(child, f"{path}.{kind}.{i}")
    if "not" in node:
        yield from _near_conditions(node["not"], f"{path}.not")
    if "near" in node:
        yield f"{path}.near", node["near"]


def near_floor(rule, max_time_ms: int) -> None:
    """An analyst's count near a place: every circle of the rule holds no customer or at
    least ``ANALYST_MIN_PEOPLE`` (as places do), else 422 naming the circle's ``km``: a count
    in a circle holding one or two people would say where they live."""
    fields = {}
    for path, body in _near_conditions(rule):
        circle = {"$and": [compile_rule({"near": body}).filter, EXCLUDED]}
        _rows, people = store.sample_and_count(circle, 0, max_time_ms)
        if 0 < people < ANALYST_MIN_PEOPLE:
            fields[f"{path}.km"] = [
                f"fewer than {ANALYST_MIN_PEOPLE} customers live in this circle: "
                "your role may count there only with a wider radius"
            ]
    if fields:
        raise InvalidFields(
            fields,
            message=f"Invalid rule: {', '.join(sorted(fields))}",
            code="too_few_people",
        )
