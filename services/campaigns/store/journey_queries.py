"""Journey enrollments, and the segments (owned by the segments service, read only) an
audience or a journey's entry is checked against."""

from __future__ import annotations

import datetime

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from services.campaigns.store.collections import enrollments
from shared.audience import RULE_MAX_TIME_MS, customer_filter
from shared.models import Customer, Segment, SegmentMember
from shared.store import utcnow

# --- segments (owned by the segments service; read only) -----------------------------


def find_segment(segment_id) -> Segment | None:
    """The segment a campaign sends to, or None when it no longer exists."""
    return Segment.objects(id=segment_id).first() if segment_id else None


def segment_archived(segment_id: ObjectId) -> bool | None:
    """Whether the segment is archived; None when there is no such segment."""
    segment = Segment.objects(id=segment_id).only("id", "archived").first()
    return None if segment is None else bool(segment.archived)


def customer_in_segment(segment_id, customer: ObjectId, max_time_ms: int = RULE_MAX_TIME_MS) -> bool:
    """Whether the customer is in the segment now (False when the segment is gone)."""
    segment = Segment.objects(id=segment_id).first()
    if segment is None:
        return False
    if segment.kind == "static":
        return (
            SegmentMember.objects(segment_id=segment.id, customer_id=customer).only("id").first() is not None
        )
    return (
        Customer._get_collection().find_one(
            {"$and": [customer_filter(segment), {"_id": customer}]}, {"_id": 1}, max_time_ms=max_time_ms
        )
        is not None
    )


# --- journey enrollments --------------------------------------------------------------

# An enrollment nobody has claimed has ``claimed_until`` at the epoch rather than null,
# because the store stand-in does not match an explicit null inside $or; the same queries
# are right on MongoDB. Only this module writes it.
UNCLAIMED = datetime.datetime(1970, 1, 1)


def _runnable(now: datetime.datetime) -> dict:
    """Waiting with its wait over, or running with a runner that died."""
    return {
        "$or": [
            {"status": "waiting", "wake_at": {"$lte": now}},
            {"status": "running", "claimed_until": {"$lt": now}},
        ]
    }


def enrollments_of(campaign_id: str, customer_id: str) -> list[dict]:
    """The customer's earlier enrollments in the campaign (status and trigger)."""
    return list(
        enrollments().find(
            {"campaign_id": campaign_id, "customer_id": customer_id}, {"status": 1, "trigger": 1}
        )
    )


def add_enrollment(doc: dict) -> bool:
    """Insert a waiting enrollment, unclaimed; False when one of that ``_id`` exists already
    (the _id makes two concurrent entries of the same number one)."""
    doc["claimed_until"] = UNCLAIMED
    try:
        enrollments().insert_one(doc)
    except DuplicateKeyError:
        return False
    return True


def due_enrollments(now: datetime.datetime, limit: int = 500) -> list[dict]:
    return list(enrollments().find(_runnable(now)).limit(limit))


def drop_enrollment(enrollment: dict, now: datetime.datetime, reason: str) -> None:
    """End an enrollment whose campaign is gone or cancelled (if it is still as read)."""
    enrollments().update_one(
        {"_id": enrollment["_id"], "status": enrollment["status"]},
        {"$set": {"status": "done", "finished_at": now, "exit": reason}},
    )


def claim_enrollment(enrollment_id: str, now: datetime.datetime, until: datetime.datetime) -> dict | None:
    """Take a runnable enrollment (``running`` until ``until``); None when another runner has it."""
    return enrollments().find_one_and_update(
        {"_id": enrollment_id, **_runnable(now)},
        {"$set": {"status": "running", "claimed_until": until}},
    )


def step_sent(enrollment_id: str, index: int, following: int, name: str) -> bool:
    """Move a running enrollment past its send step ``index``; True if this call moved it."""
    moved = enrollments().update_one(
        {"_id": enrollment_id, "step": index, "status": "running"},
        {"$set": {"step": following}, "$push": {"history": {"step": name, "sent_at": utcnow()}}},
    )
    return bool(moved.modified_count)


def park_enrollment(enrollment_id: str, index: int, wake_at: datetime.datetime) -> None:
    """A wait step: the enrollment waits, unclaimed, for ``wake_at`` at the next step."""
    enrollments().update_one(
        {"_id": enrollment_id, "step": index},
        {"$set": {"step": index + 1, "status": "waiting", "claimed_until": UNCLAIMED, "wake_at": wake_at}},
    )


def record_branch(enrollment_id: str, entry: dict) -> None:
    enrollments().update_one({"_id": enrollment_id}, {"$push": {"history": entry}})


def move_enrollment(enrollment_id: str, index: int) -> None:
    enrollments().update_one({"_id": enrollment_id}, {"$set": {"step": index}})


def finish_enrollment(enrollment_id: str) -> None:
    enrollments().update_one(
        {"_id": enrollment_id},
        {"$set": {"status": "done", "finished_at": utcnow(), "claimed_until": UNCLAIMED}},
    )
