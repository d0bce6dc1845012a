"""Segments worker: keeps profile facts fresh from other services' events."""

from __future__ import annotations

import datetime

from bson import ObjectId
from bson.errors import InvalidId

from shared.messaging.consumer import Poison
from shared.messaging.contracts import ConsentChanged, Envelope
from shared.models import Customer
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
    updated = Customer._get_collection().update_one(
        {"_id": customer_id, "$or": [{f"facts.consent_at.{path}": {"$lt": at}},
                                     {f"facts.consent_at.{path}": {"$exists": False}}]},
        {"$set": {f"consent.{path}": event.status, f"facts.consent_at.{path}": at}},
    )
    if updated.matched_count == 0 and not Customer.objects(id=customer_id).only("id").first():
        raise Poison(f"unknown customer {event.customer_id}")


FACT_HANDLERS = {"consent.changed": on_consent_changed}


def on_fact(envelope: Envelope) -> None:
    """segments.facts: dispatch by event type; types without a handler yet are acked."""
    handler = FACT_HANDLERS.get(envelope.type)
    if handler is not None:
        handler(envelope)


def handlers() -> dict:
    return {"segments.facts": on_fact}
