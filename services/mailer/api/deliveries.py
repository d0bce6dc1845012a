"""Deliveries: what was sent, skipped, deferred or failed, and why."""

from __future__ import annotations

import datetime

from apiflask import APIBlueprint

from services.mailer.api.common import aware, settings
from services.mailer.api.schemas import DeliveryOut, DeliveryPage, DeliveryQuery
from services.mailer.models import Delivery
from services.mailer.store import deliveries
from shared.http.auth import mask_personal, roles
from shared.http.errors import not_found
from shared.http.paging import cursor_id, object_id
from shared.store import utcnow

bp = APIBlueprint("deliveries", __name__, url_prefix="/deliveries", tag="deliveries")

FIELDS = (
    "campaign_id",
    "step",
    "variant",
    "channel",
    "topic",
    "marketing",
    "status",
    "reason",
    "code",
    "attempts",
    "recovered",
    "address",
    "erased",
)


def delivery_out(d: Delivery) -> dict:
    out = {name: getattr(d, name) for name in FIELDS}
    lease = datetime.timedelta(seconds=settings().claim_lease)
    out.update(stuck=d.status == "sending" and bool(d.claimed_at) and d.claimed_at < utcnow() - lease)
    out.update(
        id=str(d.id),
        customer_id=str(d.customer_id),
        due_at=aware(d.due_at),
        sent_at=aware(d.sent_at),
        opened_at=aware(d.opened_at),
        clicked_at=aware(d.clicked_at),
        bounced_at=aware(d.bounced_at),
    )
    return out


@bp.get("")
@bp.doc(responses={404: "customer_id names no customer"})
@roles("marketer", "analyst")
@bp.input(DeliveryQuery, location="query")
@bp.output(DeliveryPage)
def list_deliveries(query_data):
    """Deliveries by campaign, customer, step or status."""
    filters = {
        name: query_data[name] for name in ("campaign_id", "status", "step", "code") if query_data.get(name)
    }
    if query_data.get("customer_id"):
        filters["customer_id"] = object_id(query_data["customer_id"], "customer")
    items, total = deliveries.page(filters, cursor_id(query_data), query_data["limit"])
    nxt = str(items[-1].id) if len(items) == query_data["limit"] else None
    return mask_personal({"items": [delivery_out(d) for d in items], "total": total, "next": nxt})


@bp.get("/<delivery_id>")
@roles("marketer", "analyst")
@bp.output(DeliveryOut)
def get_delivery(delivery_id):
    """One delivery."""
    delivery = deliveries.get(object_id(delivery_id, "delivery"))
    if delivery is None:
        raise not_found("delivery", delivery_id)
    return mask_personal(delivery_out(delivery))
