"""Opens and clicks of a delivery: each recorded once (a conditional update on the
delivery is the claim), then an event (segments, owner of the customer's timeline,
writes the interaction from it). Bounces are recorded the same way by ``bounces``."""

from __future__ import annotations

from services.mailer.announcing import delivery_event
from services.mailer.store import deliveries
from shared.messaging.contracts import DeliveryClicked, DeliveryOpened
from shared.store import utcnow

KINDS = {
    "opened": ("opened_at", DeliveryOpened),
    "clicked": ("clicked_at", DeliveryClicked),
}


def record(
    events,
    delivery_id,
    what: str,
    *,
    url: str | None = None,
    reason: str | None = None,
) -> bool:
    """Record the first ``what`` of a delivery; False when it was already recorded."""
    field, event_cls = KINDS[what]
    now = utcnow()
    doc = deliveries.record_first(delivery_id, field, now, only_sent=False)
    if doc is None:
        return False
    events.publish(
        delivery_event(event_cls, {**doc, "_id": delivery_id}, url=url, reason=reason),
        message_id=f"delivery-{delivery_id}-{what}",
        occurred_at=now,
    )
    return True
