"""The consent ledger (ConsentEntry) and the current state per customer, channel
and topic (ConsentState), both owned by the mailer."""

from __future__ import annotations

import mongoengine as me
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from shared.models import ConsentEntry, ConsentState
from shared.store import utcnow


def add_entry(entry: ConsentEntry) -> ConsentEntry:
    """Append to the ledger; an entry of the same idempotency key already there is returned instead."""
    try:
        entry.save(force_insert=True)
        return entry
    except (me.NotUniqueError, DuplicateKeyError):
        return ConsentEntry.objects(idempotency_key=entry.idempotency_key).first()


def move_state_forward(entry: ConsentEntry) -> None:
    """The entry becomes the current state unless the state holds a newer change. A state
    dated after now (written before changes were kept from the future) is no newer change:
    any change recorded now replaces it, so a customer's opt-out is never held back by it."""
    try:
        ConsentState._get_collection().update_one(
            {
                "customer_id": entry.customer_id,
                "channel": entry.channel,
                "topic": entry.topic,
                "$or": [{"at": {"$lte": entry.at}}, {"at": {"$gt": utcnow()}}],
            },
            # customer_id again in $setOnInsert: the stand-in drops ObjectId equality fields
            # from an upserted document (real MongoDB copies them; repeating it is harmless).
            {
                "$set": {"status": entry.status, "at": entry.at, "entry_id": entry.id},
                "$setOnInsert": {"customer_id": entry.customer_id},
            },
            upsert=True,
        )
    except DuplicateKeyError:
        pass  # a newer state exists: the upsert found no older one to replace


def forget_ips(customer_ids: list) -> None:
    """Erased customers' ledger keeps every change (what, when, from which source, under which
    wording) without the IPs it was made from (one ``update_many``; idempotent)."""
    ConsentEntry._get_collection().update_many({"customer_id": {"$in": customer_ids}}, {"$unset": {"ip": ""}})


def states(customer_id: ObjectId) -> list[ConsentState]:
    return list(ConsentState.objects(customer_id=customer_id).order_by("channel", "topic"))


def state(customer_id: ObjectId, channel: str, topic: str) -> ConsentState | None:
    return ConsentState.objects(customer_id=customer_id, channel=channel, topic=topic).first()


def entry(entry_id) -> ConsentEntry | None:
    return ConsentEntry.objects(id=entry_id).first()


def history(customer_id: ObjectId, limit: int, before: ObjectId | None) -> tuple[list[ConsentEntry], int]:
    """Entries newest first (before the cursor), and how many the customer has."""
    query = ConsentEntry.objects(customer_id=customer_id)
    total = query.count()
    if before is not None:
        query = query.filter(id__lt=before)
    return list(query.order_by("-id").limit(limit)), total


def state_map(customer_ids: list, channel: str, topic: str) -> dict[ObjectId, str]:
    """customer id -> current status for one channel and topic (one query for a batch)."""
    cursor = ConsentState._get_collection().find(
        {"customer_id": {"$in": customer_ids}, "channel": channel, "topic": topic},
        {"customer_id": 1, "status": 1, "expires_at": 1},
    )
    return {doc["customer_id"]: doc["status"] for doc in cursor}
