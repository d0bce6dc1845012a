"""Customer profiles: create, read, update, erase, search, purchases, the 360 view, the timeline."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Dict, Float, List, Nested, Raw, String

from services.segments import customers, profile_reads
from services.segments.api.common import jsonable, settings
from services.segments.api.schemas import CustomerIn, PurchaseIn, SearchIn, ViewIn
from shared.bootstrap import current
from shared.http.auth import current_role, mask_personal, roles
from shared.http.paging import PageQuery, cursor_id, object_id, page_of
from shared.store import to_utc_naive, utcnow

bp = APIBlueprint("customers", __name__, tag="customers")

HIDDEN = ("name_key", "last_name_key", "city_key", "social_keys")


class CustomerOut(Schema):
    id = String()
    external_id = String()
    email = String()
    phone = String()
    first_name = String()
    last_name = String()
    locale = String()
    time_zone = String()
    time_zone_origin = String(
        metadata={
            "description": "given (by the customer or a marketer: a new country keeps it), country (the "
            "country's only zone), guess (the main zone of a country with several: check it), default "
            "(no country); guessed zones follow a new country. Missing: stored before it was recorded "
            "(kept like a given one)"
        }
    )
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


class PurchaseOut(Schema):
    order_id = String()
    recorded = Raw(metadata={"description": "false when this order id was already recorded"})
    purchases = Dict()


class InteractionOut(Schema):
    id = String()
    kind = String(metadata={"description": "message_sent, message_opened, mention, purchase, ..."})
    at = String()
    channel = String()
    campaign_id = String()
    summary = String()
    sentiment = Float()
    amount = Float()
    currency = String()
    data = Dict()


InteractionPage = page_of("InteractionPage", InteractionOut)


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


def _load(customer_id: str, erased: bool = False) -> dict:
    return customers.load(object_id(customer_id, "customer"), customer_id, erased=erased)


@bp.post("/customers")
@bp.input(CustomerIn)
@bp.output(CustomerOut, status_code=201)
@bp.doc(responses={409: "email or external id taken, or a suppressed contact", 422: "invalid field"})
@roles("marketer")
def create_customer(json_data):
    """Create a customer (customer.created is published after the write)."""
    values = customers.values_of(json_data, settings().default_country)
    customers.require_identifier(values)
    return serialize(customers.create(current(), values))


@bp.get("/customers")
@bp.input(SearchIn, location="query")
@bp.output(CustomerPage)
@roles("marketer", "analyst", "community_manager")
def search_customers(query_data):
    """Search by email, phone, name prefix (accent-insensitive), tag or stage; cursor pages."""
    rows, total, following = profile_reads.search(
        query_data,
        settings().default_country,
        current_role() == "analyst",
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
    values = customers.values_of(json_data, settings().default_country)
    customers.require_identifier({**existing, **values})
    doc, _ = customers.update(current(), existing, values)
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
    recorded = customers.record_purchase(
        current(),
        customer,
        json_data["order_id"],
        json_data["amount"],
        json_data["currency"].upper(),
        at,
        json_data.get("summary"),
    )
    summary = customers.purchases_summary(customer["_id"])
    body = {"order_id": json_data["order_id"], "recorded": recorded, "purchases": jsonable(summary)}
    return body, (201 if recorded else 200)


@bp.get("/customers/<customer_id>/view")
@bp.input(ViewIn, location="query")
@bp.output(ViewOut)
@roles("marketer", "analyst", "community_manager")
def customer_view(customer_id, query_data):
    """The 360 view: profile, current consents, segments, latest interactions."""
    doc = _load(customer_id)
    return {
        "profile": serialize(doc),
        "consents": jsonable(profile_reads.consents(doc["_id"])),
        "segments": jsonable(profile_reads.memberships(doc["_id"])),
        "interactions": mask_personal(
            jsonable(profile_reads.interactions(doc["_id"], query_data["interactions"]))
        ),
    }


@bp.get("/customers/<customer_id>/interactions")
@bp.input(PageQuery, location="query")
@bp.output(InteractionPage)
@roles("marketer", "analyst", "community_manager")
def customer_interactions(customer_id, query_data):
    """The customer's whole timeline, in the order recorded; cursor pages.

    Messages sent, opened, clicked and bounced, consent changes, mentions with their
    sentiment, purchases; each entry with its id. The preference center's "my data"
    reads every page."""
    doc = _load(customer_id)
    items, total, following = profile_reads.timeline_page(
        doc["_id"], query_data["limit"], cursor_id(query_data)
    )
    return {"items": mask_personal(jsonable(items)), "total": total, "next": following}
