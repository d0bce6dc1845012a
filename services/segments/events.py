"""The checks the segments outbox's relay runs.

Every event leaves through the process's one outbox (``parts.outbox``, built by
``services/segments/bootstrap.py``; ``shared.messaging.outbox``).
A profile write announces itself through an intent written before it
(``customers.py``), an import batch through one intent for all its events
(``import_batch``); the relay (the worker's idle task) publishes an intent
left by a crash only when ``CHECKS`` finds its fact in the store.
"""

from __future__ import annotations

from bson import ObjectId
from bson.errors import InvalidId

from services.segments.rules import PURCHASES_KEPT
from services.segments.store import customers as store
from shared.messaging import outbox as outboxes
from shared.messaging.contracts import Envelope

PRODUCER = "segments"


def _customer(envelope: Envelope, fields: dict) -> dict | None:
    try:
        customer_id = ObjectId(envelope.payload["customer_id"])
    except (InvalidId, TypeError):
        return None
    return store.find_customer(customer_id, fields)


def created(envelope: Envelope, record: dict) -> bool:
    """The customer was inserted."""
    return _customer(envelope, {"_id": 1}) is not None


def updated(envelope: Envelope, record: dict) -> bool:
    """The update was applied: the profile was written at or after the time this update sets
    (``since``), or it is erased when the event announces the erasure."""
    doc = _customer(envelope, {"updated_at": 1, "erased": 1})
    if doc is None:
        return False
    if "erased" in envelope.payload.get("changed", []):
        return bool(doc.get("erased"))
    since, at = record.get("since"), doc.get("updated_at")
    return since is not None and at is not None and at >= since


def purchase(envelope: Envelope, record: dict) -> bool:
    """The purchase is in the customer's facts (or old enough to have been trimmed from them)."""
    order_id = envelope.payload["order_id"]
    doc = _customer(envelope, {"facts.purchases": 1})
    if doc is None or not store.has_interaction(f"purchase:{order_id}", doc["_id"]):
        return False
    kept = (doc.get("facts") or {}).get("purchases") or []
    return any(p.get("order_id") == order_id for p in kept) or len(kept) >= PURCHASES_KEPT


CHECKS = {"customer.created": created, "customer.updated": updated, "purchase.recorded": purchase}
for _kind, _check in CHECKS.items():
    outboxes.register(_kind, PRODUCER, outboxes.checked(_check))


def erased(envelope: Envelope, record: dict) -> bool:
    """The customer is erased (customer.updated and customer.erased of one erasure)."""
    return bool((_customer(envelope, {"erased": 1}) or {}).get("erased"))


ERASURE_KIND = "customer.erasure"
outboxes.register(ERASURE_KIND, PRODUCER, outboxes.checked(erased))

# An import batch's intent (``import_batch``): its people were inserted or updated
# (``since``: the updated_at the batch set); a consent statement goes once its person is stored.
IMPORTED = {"customer.created": created, "customer.updated": updated, "consent.imported": created}


def imported(envelope: Envelope, record: dict) -> bool:
    check = IMPORTED.get(envelope.type)
    return check is not None and check(envelope, record)


IMPORT_KIND = "segments.import"
outboxes.register(IMPORT_KIND, PRODUCER, outboxes.checked(imported))
