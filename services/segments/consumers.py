"""Segments worker: keeps profile facts and the profile's timeline fresh from other
services' events (segments.facts) and segment membership fresh after every change
(segments.membership and, inline, after each fact).

Both queues are consumed in micro-batches (``batch_handlers``): one
membership evaluation for all the customers of a batch instead of one per
event (facts are still stored one event at a time).
"""

from __future__ import annotations

import datetime

from bson import ObjectId
from bson.errors import InvalidId

from services.segments import facts, timeline
from services.segments.membership import Membership
from services.segments.store import customers as store
from shared.messaging.consumer import Poison
from shared.messaging.contracts import (
    ConsentChanged,
    ContactSuppressed,
    CustomerUpdated,
    DeliveryEvent,
    Envelope,
    MentionReceived,
)
from shared.store import to_utc_naive


def customer_object_id(raw: str) -> ObjectId:
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        raise Poison(f"customer_id {raw!r} is not a customer id") from None


def on_consent_changed(envelope: Envelope) -> None:
    """Mirror the latest consent status onto the profile, for segment rules.

    Only a newer change overwrites: events can arrive out of order.
    """
    event: ConsentChanged = envelope.event()
    customer_id = customer_object_id(event.customer_id)
    at = to_utc_naive(datetime.datetime.fromisoformat(envelope.occurred_at))
    path = f"{event.channel}.{event.topic}"
    if not store.set_consent(customer_id, path, event.status, at) and not store.customer_exists(customer_id):
        raise Poison(f"unknown customer {event.customer_id}")


def on_delivery(envelope: Envelope) -> str | None:
    """delivery.sent/opened/clicked: remember the campaign on the profile.

    Like every fact handler, returns the fact the event is about whether or not this
    call wrote it: a redelivery after a failed evaluation must evaluate again.
    """
    event: DeliveryEvent = envelope.event()
    fact = DELIVERY_FACTS.get(envelope.type)
    if fact is None:  # failed, bounced, skipped: the mailer keeps those (suppression, consent)
        return None
    at = to_utc_naive(datetime.datetime.fromisoformat(envelope.occurred_at))
    facts.add_campaign(customer_object_id(event.customer_id), fact, event.campaign_id, at)
    return f"facts.{fact}"


def on_mention(envelope: Envelope) -> str | None:
    """mention.received: keep the negative ones of known customers, for rules."""
    event: MentionReceived = envelope.event()
    if not event.customer_id or event.label != "negative":
        return None
    try:
        posted = to_utc_naive(datetime.datetime.fromisoformat(event.posted_at))
    except ValueError:
        raise Poison(f"posted_at {event.posted_at!r} is not an ISO 8601 time") from None
    facts.add_negative_mention(customer_object_id(event.customer_id), event.mention_id, posted)
    return "facts.negative_mentions"


SUPPRESSION_FLAGS = ("bounced", "complained")


def on_contact_suppressed(envelope: Envelope) -> str:
    """contact.suppressed: the mailer (owner of the suppression list) stopped writing to the
    customer's contact; the profile, which segments owns, says so in ``suppression.<flag>``.

    Setting a flag is idempotent (a redelivery writes the same), and the reason and time
    move only forward: an older report arriving late does not overwrite a newer one."""
    event: ContactSuppressed = envelope.event()
    if event.flag not in SUPPRESSION_FLAGS:
        raise Poison(f"flag {event.flag!r} is not one of {SUPPRESSION_FLAGS}")
    customer_id = customer_object_id(event.customer_id)
    at = to_utc_naive(datetime.datetime.fromisoformat(envelope.occurred_at))
    if not store.flag_suppression(customer_id, event.flag, event.reason, at):
        raise Poison(f"unknown customer {event.customer_id}")
    return "suppression"


def _consent(envelope: Envelope) -> str | None:
    on_consent_changed(envelope)
    return "consent"


DELIVERY_FACTS = {"delivery.sent": "received", "delivery.opened": "opened", "delivery.clicked": "clicked"}
# event type -> handler storing the fact and returning the field it is about (None: not a fact for rules)
FACT_HANDLERS = {
    "consent.changed": _consent,
    "contact.suppressed": on_contact_suppressed,
    "mention.received": on_mention,
    **{
        kind: on_delivery
        for kind in (
            "delivery.sent",
            "delivery.opened",
            "delivery.clicked",
            "delivery.failed",
            "delivery.bounced",
            "delivery.skipped",
        )
    },
}


def handlers(parts=None) -> dict:
    """The per-message handlers of the segments worker (no parts: facts stored, membership not evaluated)."""
    membership = Membership(parts) if parts is not None else None

    return {
        "segments.facts": lambda envelope: record_facts(membership, [envelope]),
        "segments.membership": lambda envelope: evaluate(membership, [envelope], membership_change),
    }


def batch_handlers(parts=None) -> dict:
    """The micro-batch handlers of the segments worker; ``handlers`` stays the per-message path."""
    membership = Membership(parts) if parts is not None else None
    return {
        "segments.facts": lambda envelopes: record_facts(membership, envelopes),
        "segments.membership": lambda envelopes: evaluate(membership, envelopes, membership_change),
    }


def record_facts(membership: Membership | None, envelopes: list[Envelope]) -> list[str]:
    """A segments.facts batch: its timeline entries (one insert_many), then its facts and one
    evaluation. Timeline entries are keyed per fact, so a message that is no fact for rules
    still needs no record; a correction does (a late redelivery must not undo a newer one)."""
    timeline.record(envelopes)
    ignored = evaluate(membership, envelopes, fact_change)
    corrections = {e.message_id for e in envelopes if e.type == "mention.corrected"}
    return [message_id for message_id in ignored if message_id not in corrections]


def fact_change(envelope: Envelope) -> tuple[ObjectId, list[str]] | None:
    """Store a segments.facts event's fact: (customer, [the fact's field]); None: not a fact for rules."""
    handler = FACT_HANDLERS.get(envelope.type)
    fact = handler(envelope) if handler is not None else None
    if not fact:
        return None
    return customer_object_id(envelope.payload["customer_id"]), [fact]


def evaluate(membership: Membership | None, envelopes: list[Envelope], change_of) -> list[str]:
    """One evaluation of the envelopes' customers against the union of their changed fields.

    ``change_of(envelope)`` does the event's own work and says (customer, fields changed),
    or None. Evaluating a customer against a segment their own change did not touch only
    confirms (or repairs) what a full recompute would say. A bad customer id raises
    Poison: the consumer base then handles the batch's messages one by one, so only that
    one is dead-lettered; a fact stored before a failure is evaluated again then, since
    fact handlers report their field whether or not they wrote it. Returns the message
    ids that asked for nothing (their handling changes nothing, so they need no record).
    """
    customer_ids: list[ObjectId] = []
    correlation_ids: dict[ObjectId, str] = {}
    changed: set[str] = set()
    ignored: list[str] = []
    for envelope in envelopes:
        change = change_of(envelope)
        if change is None:
            ignored.append(envelope.message_id)
            continue
        customer_id, fields = change
        customer_ids.append(customer_id)
        changed.update(fields)
        if envelope.correlation_id:
            correlation_ids[customer_id] = envelope.correlation_id
    if membership is not None and customer_ids:
        membership.evaluate(sorted(set(customer_ids)), changed, correlation_ids=correlation_ids)
    return ignored


def membership_change(envelope: Envelope) -> tuple[ObjectId, list[str]] | None:
    """(customer, fields that changed) of a segments.membership event; None: nothing to do."""
    event = envelope.event()
    if getattr(event, "source", None) == "import":
        return None  # the import job evaluates membership per batch itself
    if envelope.type == "customer.created":
        changed = ["*"]
    elif envelope.type == "customer.updated":
        changed = list(event.changed) if isinstance(event, CustomerUpdated) and event.changed else ["*"]
    else:  # purchase.recorded
        changed = ["purchases", "facts.purchases"]
    return customer_object_id(event.customer_id), changed
