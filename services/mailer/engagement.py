"""Opens, clicks and bounces of a delivery: each recorded once (a conditional
update on the delivery is the claim), then an interaction and an event."""

from __future__ import annotations

from services.mailer.store import deliveries, timeline
from shared.messaging.contracts import DeliveryBounced, DeliveryClicked, DeliveryOpened
from shared.store import utcnow

KINDS = {
    "opened": ("opened_at", "message_opened", DeliveryOpened),
    "clicked": ("clicked_at", "message_clicked", DeliveryClicked),
    "bounced": ("bounced_at", "message_bounced", DeliveryBounced),
}


def record(
    events,
    delivery_id,
    what: str,
    *,
    url: str | None = None,
    reason: str | None = None,
    extra_set: dict | None = None,
) -> bool:
    """Record the first ``what`` of a delivery; False when it was already recorded."""
    field, kind, event_cls = KINDS[what]
    now = utcnow()
    doc = deliveries.record_first(delivery_id, field, now, only_sent=what == "bounced", extra_set=extra_set)
    if doc is None:
        return False
    timeline.add(
        customer_id=doc["customer_id"],
        kind=kind,
        at=now,
        key=f"delivery:{delivery_id}:{what}",
        channel=doc["channel"],
        campaign_id=doc["campaign_id"],
        data={k: v for k, v in (("delivery_id", str(delivery_id)), ("url", url), ("reason", reason)) if v},
    )
    events.publish(
        event_cls(
            delivery_id=str(delivery_id),
            campaign_id=doc["campaign_id"],
            customer_id=str(doc["customer_id"]),
            channel=doc["channel"],
            step=doc["step"],
            variant=doc.get("variant"),
            url=url,
            reason=reason,
        ),
        message_id=f"delivery-{delivery_id}-{what}",
        occurred_at=now,
    )
    return True
