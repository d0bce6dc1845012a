"""Double opt-in's queries: the segment an invitation goes to, its members, their
email consents and contacts, and the expiry of a pending consent.

Segments and their members belong to the segments service; they are only read here.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

from bson import ObjectId

from shared.models import ConsentState, Customer, Segment, SegmentMember, SuppressedContact, contact_hash


def segment_exists(segment_id: ObjectId) -> bool:
    return bool(Segment.objects(id=segment_id).only("id").first())


def member_ids(segment_id: ObjectId) -> list[ObjectId]:
    return [
        doc["customer_id"]
        for doc in SegmentMember._get_collection().find({"segment_id": segment_id}, {"customer_id": 1})
    ]


def email_consents(customer_ids: list[ObjectId], topic: str) -> list[dict]:
    """customer_id, status and expires_at of the customers' email consent to ``topic``."""
    return list(
        ConsentState._get_collection().find(
            {"customer_id": {"$in": customer_ids}, "channel": "email", "topic": topic},
            {"customer_id": 1, "status": 1, "expires_at": 1},
        )
    )


def contacts_of(customer_ids: list[ObjectId]) -> Iterator[dict]:
    """Address, locale and erasure of each customer, read as they are used."""
    return Customer._get_collection().find(
        {"_id": {"$in": customer_ids}}, {"email": 1, "locale": 1, "erased": 1}
    )


def email_suppressed(address: str) -> bool:
    return bool(SuppressedContact.objects(hash=contact_hash("email", address)).only("id").first())


def is_suppressed(kind: str, value: str | None) -> bool:
    return SuppressedContact.is_suppressed(kind, value)


def expire_pending(customer_id: ObjectId, topic: str, entry_id, expires_at: datetime.datetime) -> None:
    """Give the pending email consent the ledger entry ``entry_id`` set its expiry."""
    ConsentState._get_collection().update_one(
        {"customer_id": customer_id, "channel": "email", "topic": topic, "entry_id": entry_id},
        {"$set": {"expires_at": expires_at}},
    )
