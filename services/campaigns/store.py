"""The only code touching the campaigns service's collections (and the segments it reads).

The collections are reached through their pymongo handles (``campaigns()``,
``runs()``, ``facts()``, ``conversions()``, ``enrollments()``, ``leases()``),
resolved at each call once the store is connected; the documents that declare
them and their indexes are in ``models.py``. The queries with a name here are
those whose shape matters beyond one module: the segment an audience comes
from, and the enrollments of a journey (whose "unclaimed" is spelled for the
store stand-in, see ``UNCLAIMED``).

Nothing here raises HTTP errors: a missing document is None (or False).
"""

from __future__ import annotations

import datetime

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from services.campaigns.models import (
    Campaign,
    CampaignRun,
    Conversion,
    DeliveryFact,
    Enrollment,
    SchedulerLease,
)
from shared.audience import RULE_MAX_TIME_MS, customer_filter
from shared.leases import Lease
from shared.models import Customer, Segment, SegmentMember
from shared.store import utcnow


def campaigns():
    return Campaign._get_collection()


def runs():
    return CampaignRun._get_collection()


def facts():
    return DeliveryFact._get_collection()


def conversions():
    return Conversion._get_collection()


def enrollments():
    return Enrollment._get_collection()


def leases():
    return SchedulerLease._get_collection()


def run_lease(owner: str, seconds: float = 0) -> Lease:
    """The fan-out worker's lease on a campaign run (``worker`` until ``worker_until``)."""
    return Lease(runs, owner, seconds, owner_field="worker", until_field="worker_until", reentrant=True)


def scheduler_lease(holder: str, seconds: float) -> Lease:
    """The scheduler replicas' lease (one document, ``scheduler_leases/campaigns``)."""
    return Lease(leases, holder, seconds, owner_field="holder", until_field="expires_at", reentrant=True)


# --- campaigns ------------------------------------------------------------------------


def find_campaign(campaign_id: ObjectId) -> dict | None:
    return campaigns().find_one({"_id": campaign_id})


def campaign_state(campaign_id: ObjectId) -> str | None:
    """The campaign's state now; None when it is gone."""
    current = campaigns().find_one({"_id": campaign_id}, {"state": 1})
    return None if current is None else current["state"]


def insert_campaign(doc: dict) -> ObjectId:
    return campaigns().insert_one(doc).inserted_id


def campaigns_page(state: str | None, after: ObjectId | None, limit: int) -> tuple[list[dict], int]:
    """Up to ``limit + 1`` campaigns (in ``state`` if given), newest first, older than ``after``;
    and how many there are in all."""
    base = {"state": state} if state else {}
    page = dict(base)
    if after:
        page["_id"] = {"$lt": after}
    docs = list(campaigns().find(page).sort("_id", -1).limit(limit + 1))
    return docs, campaigns().count_documents(base)


def update_campaign_as_read(doc: dict, sets: dict) -> dict | None:
    """Set ``sets`` if the campaign is still in the state and version (``updated_at``) of ``doc``;
    the updated campaign, or None when it changed in between."""
    return campaigns().find_one_and_update(
        {"_id": doc["_id"], "state": doc["state"], "updated_at": doc["updated_at"]},
        {"$set": sets},
        return_document=ReturnDocument.AFTER,
    )


def delete_campaign_in(campaign_id: ObjectId, states: list[str]) -> bool:
    """Delete the campaign if it is in one of ``states``; True if deleted."""
    return campaigns().delete_one({"_id": campaign_id, "state": {"$in": states}}).deleted_count == 1


# --- runs -----------------------------------------------------------------------------


def resume_run(run_id: str, now: datetime.datetime) -> dict | None:
    """A paused run sends again (if it was paused); the run's due time (``due_at``)."""
    runs().update_one({"_id": run_id, "state": "paused"}, {"$set": {"state": "sending", "touched_at": now}})
    return runs().find_one({"_id": run_id}, {"due_at": 1})


def runs_page(campaign_id: ObjectId, before: str | None, limit: int) -> tuple[list[dict], int]:
    """Up to ``limit + 1`` runs of a campaign, latest first, with ids below ``before``; and how
    many runs it has. (A run's id is "<campaign>:<due time>", so within one campaign id order
    is due-time order.)"""
    mine = {"campaign_id": campaign_id}
    paged = {**mine, "_id": {"$lt": before}} if before else mine
    rows = list(runs().find(paged).sort("_id", -1).limit(limit + 1))
    return rows, runs().count_documents(mine)


# --- delivery facts -------------------------------------------------------------------


def unrecovered_failures(campaign_id: str) -> list[dict]:
    """The failed deliveries of a campaign not sent since (delivery, customer, step, variant)."""
    failed = list(
        facts().find(
            {"campaign_id": campaign_id, "type": "failed"},
            {"delivery_id": 1, "customer_id": 1, "step": 1, "variant": 1},
        )
    )
    recovered = {
        f["delivery_id"]
        for f in facts().find(
            {
                "campaign_id": campaign_id,
                "type": "sent",
                "delivery_id": {"$in": [f["delivery_id"] for f in failed]},
            },
            {"delivery_id": 1},
        )
    }
    return [fact for fact in failed if fact["delivery_id"] not in recovered]


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
