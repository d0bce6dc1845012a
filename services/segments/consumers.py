"""Segments worker: keeps profile facts fresh from other services' events
(segments.facts) and segment membership fresh after every change
(segments.membership and, inline, after each fact).

Both queues are consumed in micro-batches (``batch_handlers``): one
membership evaluation for all the customers of a batch instead of one per
event (facts are still stored one event at a time).
"""

from __future__ import annotations

import datetime

from bson import ObjectId
from bson.errors import InvalidId

from shared.messaging.consumer import Poison
from shared.messaging.contracts import (ConsentChanged, CustomerUpdated, DeliveryEvent, Envelope,
                                        MentionReceived)
from shared.models import Customer
from shared.store import to_utc_naive

from services.segments import facts
from services.segments.membership import Membership


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
    updated = Customer._get_collection().update_one(
        {"_id": customer_id, "$or": [{f"facts.consent_at.{path}": {"$lt": at}},
                                     {f"facts.consent_at.{path}": {"$exists": False}}]},
        {"$set": {f"consent.{path}": event.status, f"facts.consent_at.{path}": at}},
    )
    if updated.matched_count == 0 and not Customer.objects(id=customer_id).only("id").first():
        raise Poison(f"unknown customer {event.customer_id}")


def on_delivery(envelope: Envelope) -> str | None:
    """delivery.sent/opened/clicked: remember the campaign on the profile."""
    event: DeliveryEvent = envelope.event()
    fact = DELIVERY_FACTS.get(envelope.type)
    if fact is None:  # failed, bounced: the mailer keeps those (suppression)
        return None
    if facts.add_campaign(customer_object_id(event.customer_id), fact, event.campaign_id):
        return f"facts.{fact}"
    return None


def on_mention(envelope: Envelope) -> str | None:
    """mention.received: keep the negative ones of known customers, for rules."""
    event: MentionReceived = envelope.event()
    if not event.customer_id or event.label != "negative":
        return None
    try:
        posted = to_utc_naive(datetime.datetime.fromisoformat(event.posted_at))
    except ValueError:
        raise Poison(f"posted_at {event.posted_at!r} is not an ISO 8601 time") from None
    if facts.add_negative_mention(customer_object_id(event.customer_id), event.mention_id, posted):
        return "facts.negative_mentions"
    return None


def _consent(envelope: Envelope) -> str | None:
    on_consent_changed(envelope)
    return "consent"


DELIVERY_FACTS = {"delivery.sent": "received", "delivery.opened": "opened", "delivery.clicked": "clicked"}
# event type -> handler returning the fact it changed (or None when nothing changed)
FACT_HANDLERS = {"consent.changed": _consent, "mention.received": on_mention,
                 **{kind: on_delivery for kind in ("delivery.sent", "delivery.opened", "delivery.clicked",
                                                   "delivery.failed", "delivery.bounced")}}


def handlers(settings=None) -> dict:
    membership = Membership(settings) if settings is not None else None

    def on_fact(envelope: Envelope) -> None:
        """segments.facts: update the fact, then the memberships that read it."""
        handler = FACT_HANDLERS.get(envelope.type)
        if handler is None:
            return
        changed = handler(envelope)
        if changed and membership is not None:
            membership.evaluate([customer_object_id(envelope.payload["customer_id"])], [changed])

    def on_membership(envelope: Envelope) -> None:
        """segments.membership: a profile changed; re-evaluate what that change can affect."""
        evaluate_changes(membership, [envelope])

    return {"segments.facts": on_fact, "segments.membership": on_membership}


def batch_handlers(settings=None) -> dict:
    """The micro-batch handlers of the segments worker; ``handlers`` stays the per-message path."""
    membership = Membership(settings) if settings is not None else None

    def on_facts(envelopes: list[Envelope]) -> None:
        """Store each fact, then evaluate once the customers whose facts changed.

        The evaluation also runs when a fact in the middle raised (the batch
        is then handled again message by message): the facts stored before it
        would otherwise read as "unchanged" on that second pass and their
        memberships would never be evaluated.
        """
        customer_ids: list[ObjectId] = []
        correlation_ids: dict[ObjectId, str] = {}
        changed: set[str] = set()
        try:
            for envelope in envelopes:
                handler = FACT_HANDLERS.get(envelope.type)
                fact = handler(envelope) if handler is not None else None
                if fact:
                    customer_id = customer_object_id(envelope.payload["customer_id"])
                    customer_ids.append(customer_id)
                    changed.add(fact)
                    if envelope.correlation_id:
                        correlation_ids[customer_id] = envelope.correlation_id
        finally:
            if membership is not None and customer_ids:
                membership.evaluate(sorted(set(customer_ids)), changed, correlation_ids=correlation_ids)

    return {"segments.facts": on_facts,
            "segments.membership": lambda envelopes: evaluate_changes(membership, envelopes)}


def evaluate_changes(membership: Membership | None, envelopes: list[Envelope]) -> list[str]:
    """Profile changes: one evaluation of their customers against the union of their changed fields.

    Evaluating a customer against a segment their own change did not touch
    only confirms (or repairs) what a full recompute would say. A bad
    customer id raises Poison: the consumer base then handles the batch's
    messages one by one, so only that one is dead-lettered. Returns the
    message ids it ignored (imported rows: the import evaluates them itself).
    """
    customer_ids: list[ObjectId] = []
    correlation_ids: dict[ObjectId, str] = {}
    changed: set[str] = set()
    ignored: list[str] = []
    for envelope in envelopes:
        change = membership_change(envelope)
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
