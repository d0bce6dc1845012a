"""What the send-time checks read about a batch's recipients, one query each:
their profiles (the fields a message and the rules use) and their marketing
preferences (pause, personal frequency)."""

from __future__ import annotations

from collections.abc import Iterator

from services.mailer.prefs_models import Preference
from shared.models import Customer, Segment

CUSTOMER_FIELDS = {
    "email": 1,
    "phone": 1,
    "first_name": 1,
    "last_name": 1,
    "locale": 1,
    "time_zone": 1,
    "suppression": 1,
    "erased": 1,
    "attributes": 1,
    "purchases": 1,
    "city": 1,
    "country": 1,
    "tags": 1,
}


def profiles(customer_ids: list) -> dict:
    """customer id -> the profile fields sending needs, for those that exist."""
    return {
        doc["_id"]: doc
        for doc in Customer._get_collection().find({"_id": {"$in": customer_ids}}, CUSTOMER_FIELDS)
    }


def marketing_preferences(customer_ids: list) -> list[dict]:
    """The preference documents of these customers: ``customer_id``, ``paused_until``, ``frequency``."""
    return list(
        Preference._get_collection().find(
            {"customer_id": {"$in": customer_ids}}, {"customer_id": 1, "paused_until": 1, "frequency": 1}
        )
    )


def profile(customer_id) -> dict | None:
    """A whole profile (a preview or test send for a real customer)."""
    return Customer._get_collection().find_one({"_id": customer_id})


def email_of(customer_id) -> dict | None:
    """The profile's id and email."""
    return Customer._get_collection().find_one({"_id": customer_id}, {"email": 1})


def by_email(address: str) -> dict | None:
    """The profile with this email (id and email)."""
    return Customer._get_collection().find_one({"email": address}, {"email": 1})


def exists(customer_id) -> bool:
    return Customer.objects(id=customer_id).only("id").first() is not None


def erased(customer_id) -> bool:
    """Whether the profile was erased (its tombstone says so)."""
    return Customer._get_collection().find_one({"_id": customer_id, "erased": True}, {"_id": 1}) is not None


def erased_ids(batch: int) -> Iterator[list]:
    """The ids of every erased profile (tombstone), ``batch`` at a time."""
    chunk: list = []
    for doc in Customer._get_collection().find({"erased": True}, {"_id": 1}).sort("_id", 1):
        chunk.append(doc["_id"])
        if len(chunk) == batch:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def segment(segment_id):
    """The segment (owned by segments, read here to walk its audience), or None."""
    return Segment.objects(id=segment_id).first()
