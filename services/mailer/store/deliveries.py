"""Deliveries: a batch's claims, their outcomes, and the lists the API shows.

Inserting a delivery as ``sending`` is the claim (the unique key lets one
worker insert it); every later write is conditional on the claim it holds
(``claim`` = the worker's id), so a worker that lost a claim changes nothing.
One store command each, as the sender's path counts them (the mailer bench:
one update per sent message, one ``insert_many`` and one ``$in`` read per batch).
"""

from __future__ import annotations

from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError

from services.mailer.models import Delivery

BATCH_FIELDS = {
    "customer_id": 1,
    "status": 1,
    "claimed_at": 1,
    "campaign_id": 1,
    "channel": 1,
    "step": 1,
    "variant": 1,
    "sent_at": 1,
    "reason": 1,
    "code": 1,
    "attempts": 1,
}
ENGAGEMENT_FIELDS = {"campaign_id": 1, "customer_id": 1, "channel": 1, "step": 1, "variant": 1}


def _deliveries():
    return Delivery._get_collection()


def existing_of_batch(campaign_id: str, step: str, customer_ids: list) -> dict:
    """customer id -> the delivery this campaign step already has for them (one ``$in`` read)."""
    return {
        doc["customer_id"]: doc
        for doc in _deliveries().find(
            {"campaign_id": campaign_id, "step": step, "customer_id": {"$in": customer_ids}}, BATCH_FIELDS
        )
    }


def insert_claims(docs: list[dict]) -> set:
    """Insert a batch's new deliveries in one ``insert_many``; the ids another worker's insert beat
    us to (same unique key)."""
    if not docs:
        return set()
    try:
        _deliveries().insert_many(docs, ordered=False)
        return set()
    except BulkWriteError as exc:
        lost = set()
        for error in exc.details.get("writeErrors", []):
            if error.get("code") != 11000:
                raise
            lost.add(docs[error["index"]]["_id"])
        return lost


def _take(query: dict, worker_id: str, now, recovered: bool) -> dict | None:
    update: dict = {"$set": {"status": "sending", "claim": worker_id, "claimed_at": now}}
    if recovered:
        update["$set"]["recovered"] = True
        update["$inc"] = {"attempts": 1}
    return _deliveries().find_one_and_update(query, update, return_document=ReturnDocument.AFTER)


def claim_failed(delivery_id, worker_id: str, now) -> dict | None:
    """Take a failed delivery again ("resend to failed"); None if it is no longer failed."""
    return _take({"_id": delivery_id, "status": "failed"}, worker_id, now, False)


def claim_abandoned(delivery_id, claimed_at, worker_id: str, now) -> dict | None:
    """Take over a claim a dead worker left (still the same ``claimed_at``), counted as an attempt."""
    return _take({"_id": delivery_id, "status": "sending", "claimed_at": claimed_at}, worker_id, now, True)


def claim_next_due(worker_id: str, now) -> dict | None:
    """One deferred delivery whose time has come, claimed."""
    return _take({"status": "deferred", "due_at": {"$lte": now}}, worker_id, now, False)


def claim_next_abandoned(worker_id: str, now, stale_before) -> dict | None:
    """One delivery left ``sending`` past its lease, claimed (counted as an attempt)."""
    return _take({"status": "sending", "claimed_at": {"$lt": stale_before}}, worker_id, now, True)


def defer_claimed(delivery_id, worker_id: str, *, reason: str, code: str, due_at, attempts=None) -> None:
    fields = {"status": "deferred", "reason": reason, "code": code, "due_at": due_at}
    if attempts is not None:
        fields["attempts"] = attempts
    _deliveries().update_one({"_id": delivery_id, "claim": worker_id}, {"$set": fields})


def skip_claimed(delivery_id, worker_id: str, *, reason: str, code: str) -> bool:
    """A claimed delivery a rule now stops; False when the claim was lost meanwhile."""
    moved = _deliveries().update_one(
        {"_id": delivery_id, "claim": worker_id},
        {"$set": {"status": "skipped", "reason": reason, "code": code}},
    )
    return bool(moved.modified_count)


def fail_claimed(delivery_id, worker_id: str, *, reason: str, code: str, counted: bool) -> None:
    update: dict = {"$set": {"status": "failed", "reason": reason, "code": code}}
    if counted:
        update["$inc"] = {"attempts": 1}
    _deliveries().update_one({"_id": delivery_id, "claim": worker_id}, update)


def renew_claims(delivery_ids: list, worker_id: str, now) -> None:
    """Restart the lease of the claims this worker still holds among ``delivery_ids`` (one write)."""
    _deliveries().update_many(
        {"_id": {"$in": delivery_ids}, "claim": worker_id, "status": "sending"}, {"$set": {"claimed_at": now}}
    )


def mark_sent(delivery_ids: list, worker_id: str, now) -> None:
    """Accepted emails recorded as sent, all in one write."""
    _deliveries().update_many(
        {"_id": {"$in": delivery_ids}, "claim": worker_id}, {"$set": {"status": "sent", "sent_at": now}}
    )


def mark_sent_with_provider_id(delivery_id, worker_id: str, now, provider_id: str) -> None:
    """An accepted SMS recorded as sent with the provider's message id (one write)."""
    _deliveries().update_one(
        {"_id": delivery_id, "claim": worker_id},
        {"$set": {"status": "sent", "sent_at": now, "provider_id": provider_id}},
    )


def version_sent_by_step(campaign_id: str, step: str, template_id) -> int | None:
    """The template version a campaign step's earlier deliveries used, if it has any."""
    earlier = _deliveries().find_one(
        {"campaign_id": campaign_id, "step": step, "template_id": template_id}, {"template_version": 1}
    )
    return (earlier or {}).get("template_version")


def marketing_sends_since(customer_ids: list, since) -> list[dict]:
    """(customer_id, sent_at) of the marketing messages sent to these customers since ``since``."""
    return list(
        _deliveries().find(
            {"customer_id": {"$in": customer_ids}, "marketing": True, "sent_at": {"$gte": since}},
            {"customer_id": 1, "sent_at": 1},
        )
    )


def record_first(delivery_id, field: str, now, *, only_sent: bool, extra_set: dict | None = None):
    """Set ``field`` (opened_at, clicked_at, bounced_at) if it is not set yet: the one claim of that
    engagement. The delivery's campaign fields, or None when it was already recorded."""
    query = {"_id": delivery_id, field: None}
    if only_sent:
        query["status"] = "sent"
    return _deliveries().find_one_and_update(
        query, {"$set": {field: now, **(extra_set or {})}}, projection=ENGAGEMENT_FIELDS
    )


def outcomes_under(delivery_ids: list, worker_id: str) -> list[dict]:
    """The deliveries among ``delivery_ids`` that reached an outcome (sent, skipped, failed) under
    ``worker_id``'s claim (one ``$in`` read; the claim stays on the outcome's write)."""
    return list(
        _deliveries().find(
            {
                "_id": {"$in": delivery_ids},
                "claim": worker_id,
                "status": {"$in": ["sent", "skipped", "failed"]},
            },
            BATCH_FIELDS,
        )
    )


def engagement_of(delivery_id, field: str) -> dict | None:
    """The delivery's campaign fields and ``field`` (opened_at, clicked_at, bounced_at), or None."""
    return _deliveries().find_one({"_id": delivery_id}, {**ENGAGEMENT_FIELDS, field: 1})


def find(delivery_id) -> dict | None:
    return _deliveries().find_one({"_id": delivery_id})


def note_reason(delivery_id, reason: str) -> None:
    """A soft bounce's reason, noted on the delivery (nothing else changes)."""
    _deliveries().update_one({"_id": delivery_id}, {"$set": {"reason": reason}})


# What an erasure takes off a delivery: where it went, and the provider's words about it (a
# refusal or a bounce's diagnostic quotes the address). Status, code and times stay: results
# count it as before.
ERASED_FIELDS = ("address", "reason")


def forget_customers(customer_ids: list) -> int:
    """Erased customers' deliveries, all in one ``update_many``: marked ``erased``, without
    address and reason. Run again (a redelivered event), it finds nothing left to change."""
    moved = _deliveries().update_many(
        {"customer_id": {"$in": customer_ids}},
        {"$set": {"erased": True}, "$unset": {name: "" for name in ERASED_FIELDS}},
    )
    return moved.modified_count


def get(delivery_id) -> Delivery | None:
    return Delivery.objects(id=delivery_id).first()


def page(filters: dict, after, limit: int) -> tuple[list[Delivery], int]:
    """Deliveries matching ``filters`` (field -> value) after the cursor, oldest first, and the total."""
    query = Delivery.objects(**filters)
    total = query.count()
    if after:
        query = query.filter(id__gt=after)
    return list(query.order_by("id").limit(limit)), total
