"""Customer profiles: create, read, update, erase, search, purchases, the 360 view."""

from __future__ import annotations

import re

from apiflask import APIBlueprint, Schema
from apiflask.fields import DateTime, Dict, Float, Integer, List, Nested, Raw, String
from apiflask.validators import Length, OneOf, Range

from services.segments import customers, profiles
from services.segments.api.common import jsonable, settings
from services.segments.rules import accent_tolerant
from shared import normalize
from shared.bootstrap import current
from shared.http.auth import current_role, mask_personal, roles
from shared.http.errors import ApiError, not_found
from shared.http.paging import PageQuery, cursor_id, object_id, page
from shared.models import ConsentState, Customer, Interaction, Segment, SegmentMember
from shared.models.customer import STAGES
from shared.personal import is_personal
from shared.store import to_utc_naive, utcnow

bp = APIBlueprint("customers", __name__, tag="customers")

HIDDEN = ("name_key", "last_name_key", "city_key", "social_keys")


class Location(Schema):
    lat = Float(required=True, validate=Range(min=-90, max=90))
    lng = Float(required=True, validate=Range(min=-180, max=180))


class CustomerIn(Schema):
    external_id = String(allow_none=True)
    email = String(allow_none=True, metadata={"example": "lucia.garcia@example.com"})
    phone = String(allow_none=True, metadata={"description": "E.164, or national in the default country"})
    first_name = String(allow_none=True)
    last_name = String(allow_none=True)
    locale = String(allow_none=True, metadata={"example": "es-MX"})
    time_zone = String(allow_none=True, metadata={"example": "America/Mexico_City"})
    country = String(allow_none=True, metadata={"example": "MX"})
    city = String(allow_none=True)
    location = Nested(Location, allow_none=True)
    social = Dict(keys=String(), values=String(), allow_none=True, metadata={"example": {"x": "lucia"}})
    stage = String(allow_none=True, validate=OneOf(STAGES))
    tags = List(String(), allow_none=True)
    attributes = Dict(allow_none=True)


class CustomerOut(Schema):
    id = String()
    external_id = String()
    email = String()
    phone = String()
    first_name = String()
    last_name = String()
    locale = String()
    time_zone = String()
    country = String()
    city = String()
    location = Raw()
    social = Dict()
    stage = String()
    tags = List(String())
    attributes = Dict()
    purchases = Dict()
    suppression = Dict()
    consent = Dict()
    facts = Dict()
    erased = Raw()
    created_at = String()
    updated_at = String()


class CustomerPage(Schema):
    items = List(Nested(CustomerOut))
    total = Raw()
    next = String(allow_none=True)


class SearchIn(PageQuery):
    email = String(metadata={"description": "exact address (normalised)"})
    phone = String(metadata={"description": "exact number (normalised to E.164)"})
    name = String(
        validate=Length(min=1, max=100),
        metadata={"description": "prefix of first or last name; accents, ñ and case ignored"},
    )
    tag = String()
    stage = String(validate=OneOf(STAGES))


class PurchaseIn(Schema):
    order_id = String(required=True, validate=Length(min=1, max=100))
    amount = Float(required=True, validate=Range(min=0, max=10_000_000))
    currency = String(load_default="EUR", validate=Length(equal=3))
    purchased_at = DateTime(load_default=None, metadata={"description": "ISO 8601; default now"})
    summary = String(load_default=None, validate=Length(max=500))


class PurchaseOut(Schema):
    order_id = String()
    recorded = Raw(metadata={"description": "false when this order id was already recorded"})
    purchases = Dict()


class ViewOut(Schema):
    profile = Nested(CustomerOut)
    consents = List(Dict())
    segments = List(Dict())
    interactions = List(Dict())


def serialize(doc: dict) -> dict:
    out = jsonable({key: value for key, value in doc.items() if key not in HIDDEN and key != "_id"})
    out["id"] = str(doc["_id"])
    location = doc.get("location")
    if isinstance(location, dict) and location.get("coordinates"):
        lng, lat = location["coordinates"]
        out["location"] = {"lat": lat, "lng": lng}
    if isinstance(out.get("facts"), dict):
        out["facts"].pop("v", None)  # the facts' compare-and-set version: internal
    return mask_personal(out)


def _values(json_data: dict) -> dict:
    """Normalise what the schema let through; 422 naming every bad field."""
    data = dict(json_data)
    if "location" in data and data["location"] is not None:
        data["location"] = [data["location"]["lng"], data["location"]["lat"]]
    values, errors = profiles.normalise(data, settings().default_country)
    if errors:
        raise ApiError(
            422,
            f"Invalid json: {', '.join(sorted(errors))}",
            error="validation_error",
            location="json",
            fields={field: [reason] for field, reason in errors.items()},
        )
    return values


def _raise(exc: customers.WriteError):
    raise ApiError(exc.status, f"{exc.field}: {exc.message}", field=exc.field) from None


def _load(customer_id: str, erased: bool = False) -> dict:
    """The stored customer; an erased one is 404 (its tombstone only answers a repeated DELETE)."""
    doc = Customer._get_collection().find_one({"_id": object_id(customer_id, "customer")})
    if doc is None or (doc.get("erased") and not erased):
        raise not_found("customer", customer_id)
    return doc


def _require_identifier(doc: dict) -> None:
    if not profiles.identified(doc):
        fields = {
            field: ["a customer needs an external_id, email or phone"] for field in profiles.IDENTIFIERS
        }
        raise ApiError(
            422,
            "Invalid json: a customer needs an external_id, email or phone",
            error="validation_error",
            location="json",
            fields=fields,
        )


@bp.post("/customers")
@bp.input(CustomerIn)
@bp.output(CustomerOut, status_code=201)
@bp.doc(responses={409: "email or external id taken, or a suppressed contact", 422: "invalid field"})
@roles("marketer")
def create_customer(json_data):
    """Create a customer (customer.created is published after the write)."""
    values = _values(json_data)
    _require_identifier(values)
    try:
        return serialize(customers.create(current(), values))
    except customers.WriteError as exc:
        _raise(exc)


@bp.get("/customers")
@bp.input(SearchIn, location="query")
@bp.output(CustomerPage)
@roles("marketer", "analyst", "community_manager")
def search_customers(query_data):
    """Search by email, phone, name prefix (accent-insensitive), tag or stage; cursor pages."""
    conditions: list[dict] = [{"erased": {"$ne": True}}]
    analyst = current_role() == "analyst"
    if analyst:
        # a search is a count: on a personal field it would unmask what the answer masks
        refused = {
            name: ["is personal data: your role may not search on it"]
            for name in ("email", "phone")
            if query_data.get(name) and is_personal(name)
        }
        if refused:
            raise ApiError(
                422,
                f"Invalid query: {', '.join(sorted(refused))}",
                error="validation_error",
                location="query",
                fields=refused,
            )
    if query_data.get("email"):
        conditions.append({"email": normalize.text(query_data["email"]).lower()})
    if query_data.get("phone"):
        try:
            conditions.append({"phone": normalize.phone(query_data["phone"], settings().default_country)})
        except ValueError as exc:
            raise ApiError(
                422,
                "Invalid query: phone",
                error="validation_error",
                location="query",
                fields={"phone": [str(exc)]},
            ) from None
    if query_data.get("name") and analyst:
        # first names only: name_key and last_name_key hold the (personal) last name
        prefix = "^" + accent_tolerant(normalize.fold(normalize.text(query_data["name"])))
        conditions.append({"first_name": {"$regex": prefix, "$options": "i"}})
    elif query_data.get("name"):
        prefix = "^" + re.escape(normalize.fold(normalize.text(query_data["name"])))
        conditions.append({"$or": [{"name_key": {"$regex": prefix}}, {"last_name_key": {"$regex": prefix}}]})
    if query_data.get("tag"):
        conditions.append({"tags": query_data["tag"]})
    if query_data.get("stage"):
        conditions.append({"stage": query_data["stage"]})
    rows, total, following = page(
        Customer._get_collection(),
        {"$and": conditions},
        query_data["limit"],
        cursor_id(query_data),
    )
    return {"items": [serialize(row) for row in rows], "total": total, "next": following}


@bp.get("/customers/<customer_id>")
@bp.output(CustomerOut)
@roles("marketer", "analyst", "community_manager")
def get_customer(customer_id):
    """One customer's profile."""
    return serialize(_load(customer_id))


@bp.patch("/customers/<customer_id>")
@bp.input(CustomerIn)
@bp.output(CustomerOut)
@bp.doc(responses={409: "email or external id taken, suppressed contact, or erased", 422: "invalid field"})
@roles("marketer")
def update_customer(customer_id, json_data):
    """Change the given fields (null clears one); customer.updated names what changed."""
    existing = _load(customer_id)
    values = _values(json_data)
    _require_identifier({**existing, **values})
    try:
        doc, _ = customers.update(current(), existing, values)
    except customers.WriteError as exc:
        _raise(exc)
    return serialize(doc)


@bp.delete("/customers/<customer_id>")
@bp.output({}, status_code=204)
@roles("marketer")
def delete_customer(customer_id):
    """Erase a customer: personal data removed, contacts suppressed, memberships ended."""
    existing = _load(customer_id, erased=True)
    if not existing.get("erased"):
        customers.erase(current(), existing)
    return ""


@bp.post("/customers/<customer_id>/purchases")
@bp.input(PurchaseIn)
@bp.output(PurchaseOut, status_code=201)
@bp.doc(
    responses={
        200: "this order id was already recorded (nothing changed)",
        409: "the order id belongs to another customer",
    }
)
@roles("marketer")
def record_purchase(customer_id, json_data):
    """Record a purchase once per order id (purchase.recorded is published)."""
    customer = _load(customer_id)
    at = to_utc_naive(json_data["purchased_at"]) if json_data.get("purchased_at") else utcnow()
    try:
        recorded = customers.record_purchase(
            current(),
            customer,
            json_data["order_id"],
            json_data["amount"],
            json_data["currency"].upper(),
            at,
            json_data.get("summary"),
        )
    except customers.WriteError as exc:
        _raise(exc)
    summary = Customer._get_collection().find_one({"_id": customer["_id"]}, {"purchases": 1})["purchases"]
    body = {"order_id": json_data["order_id"], "recorded": recorded, "purchases": jsonable(summary)}
    return body, (201 if recorded else 200)


class ViewIn(Schema):
    interactions = Integer(
        load_default=20,
        validate=Range(min=1, max=200),
        metadata={"description": "how many of the latest interactions"},
    )


@bp.get("/customers/<customer_id>/view")
@bp.input(ViewIn, location="query")
@bp.output(ViewOut)
@roles("marketer", "analyst", "community_manager")
def customer_view(customer_id, query_data):
    """The 360 view: profile, current consents, segments, latest interactions."""
    doc = _load(customer_id)
    limit = query_data["interactions"]
    consents = [
        {"channel": s.channel, "topic": s.topic, "status": s.status, "at": jsonable(s.at)}
        for s in ConsentState.objects(customer_id=doc["_id"]).order_by("channel", "topic")
    ]
    member_rows = list(SegmentMember.objects(customer_id=doc["_id"]))
    names = {s.id: s for s in Segment.objects(id__in=[m.segment_id for m in member_rows])}
    segments = [
        {
            "id": str(m.segment_id),
            "name": names[m.segment_id].name,
            "kind": names[m.segment_id].kind,
            "since": jsonable(m.since),
        }
        for m in member_rows
        if m.segment_id in names
    ]
    interactions = []
    for item in Interaction.objects(customer_id=doc["_id"]).order_by("-at").limit(limit):
        entry = {
            "kind": item.kind,
            "at": jsonable(item.at),
            "channel": item.channel,
            "campaign_id": item.campaign_id,
            "summary": item.summary,
        }
        if item.sentiment is not None:
            entry["sentiment"] = item.sentiment
        if item.amount is not None:
            entry["amount"], entry["currency"] = float(item.amount), item.currency
        if item.data:
            entry["data"] = jsonable(item.data)
        interactions.append({k: v for k, v in entry.items() if v is not None})
    return {
        "profile": serialize(doc),
        "consents": consents,
        "segments": segments,
        "interactions": mask_personal(interactions),
    }
