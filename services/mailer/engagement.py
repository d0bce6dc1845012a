"""Opens and clicks of a delivery: each recorded once (a conditional update on the
delivery is the claim), then an event (segments, owner of the customer's timeline,
writes the interaction from it). Bounces are recorded the same way by ``bounces``.

The event is announced through an outbox intent written before the update
(``ENGAGEMENT_KIND``: the delivery, what, the url and the time it sets): a process
killed after the update leaves it to the relay, which rebuilds the event when the
delivery's ``opened_at`` / ``clicked_at`` is that time (``intents.engaged``); every
later open finds it recorded and announces nothing, so nothing else would. The price:
one insert and one delete per first open or click; a repeat (most pixel loads) is
answered by one read and writes nothing. An erased customer's message records nothing
(a read more, on a first open or click only): their profile gets no data back."""

from __future__ import annotations

from services.mailer.announcing import delivery_event
from services.mailer.store import deliveries, recipients
from shared.logs import get_correlation_id
from shared.messaging.contracts import DeliveryClicked, DeliveryOpened, envelope_for
from shared.store import utcnow

KINDS = {
    "opened": ("opened_at", DeliveryOpened),
    "clicked": ("clicked_at", DeliveryClicked),
}
ENGAGEMENT_KIND = "mailer.engagement"


def envelope(producer: str, doc: dict, what: str, url, at, correlation_id):
    """The ``delivery.<what>`` of the delivery ``doc`` (its campaign fields), at ``at``."""
    event = delivery_event(KINDS[what][1], doc, url=url, reason=None)
    return envelope_for(event, producer, correlation_id, f"delivery-{doc['_id']}-{what}", at)


def record(events, delivery_id, what: str, *, url: str | None = None) -> bool:
    """Record the first ``what`` of a delivery; False when it was already recorded."""
    field = KINDS[what][0]
    held = deliveries.engagement_of(delivery_id, field)
    if held is None or held.get(field) is not None:
        return False  # unknown, or recorded before: a repeat costs one read, no intent
    if recipients.erased(held.get("customer_id")):
        return False
    now = utcnow()
    correlation_id = get_correlation_id()
    intent = events.record(
        ENGAGEMENT_KIND, delivery_id=delivery_id, what=what, url=url, since=now, correlation_id=correlation_id
    )
    doc = deliveries.record_first(delivery_id, field, now, only_sent=False)
    if doc is None:
        events.discard(intent)
        return False
    events.announce(
        intent, [envelope(events.producer, {**doc, "_id": delivery_id}, what, url, now, correlation_id)]
    )
    return True
