"""Segments, their member rows and their recompute jobs in the store."""

from __future__ import annotations

import mongoengine as me
from bson import ObjectId
from pymongo.errors import BulkWriteError

from services.segments.models import RecomputeJob
from services.segments.store.customers import _duplicates
from shared.http.paging import page
from shared.models import Segment, SegmentMember
from shared.store import utcnow


def _members():
    return SegmentMember._get_collection()


# --- segments -------------------------------------------------------------------


def find_segment(segment_id) -> Segment | None:
    return Segment.objects(id=segment_id).first()


def save_segment(segment: Segment) -> Segment:
    return segment.save()


def archive_segment(segment_id) -> None:
    Segment.objects(id=segment_id).update_one(set__archived=True, set__updated_at=utcnow())


def page_segments(limit: int, after: ObjectId | None) -> tuple[list[Segment], int, str | None]:
    """Segments not archived, oldest first: (segments, total, next cursor)."""
    rows, total, following = page(
        Segment._get_collection(), {"archived": {"$ne": True}}, limit, after, {"_id": 1}
    )
    by_id = {s.id: s for s in Segment.objects(id__in=[r["_id"] for r in rows])}
    return [by_id[r["_id"]] for r in rows], total, following


def active_dynamic_segments() -> list[Segment]:
    return list(
        Segment.objects(kind="dynamic", archived__ne=True).only(
            "id", "kind", "rule", "compiled", "updated_at"
        )
    )


def segments_by_ids(ids: list) -> dict:
    return {s.id: s for s in Segment.objects(id__in=ids)}


# --- member rows ----------------------------------------------------------------


def count_members(segment_id) -> int:
    return _members().count_documents({"segment_id": segment_id})


def memberships_of(customer_id: ObjectId) -> list:
    """The customer's member rows (documents with ``segment_id`` and ``since``)."""
    return list(SegmentMember.objects(customer_id=customer_id))


def segment_ids_of(customer_id: ObjectId) -> list:
    return [row["segment_id"] for row in _members().find({"customer_id": customer_id}, {"segment_id": 1})]


def members_among(segment_id, customer_ids: list) -> set:
    """Which of these customers are members of the segment."""
    return {
        row["customer_id"]
        for row in _members().find(
            {"segment_id": segment_id, "customer_id": {"$in": customer_ids}}, {"customer_id": 1}
        )
    }


def member_marks(segment_id, customer_ids: list) -> dict:
    """Customer id -> the ``via`` (announcing record) of their member row, for those who have one."""
    return {
        row["customer_id"]: row.get("via")
        for row in _members().find(
            {"segment_id": segment_id, "customer_id": {"$in": customer_ids}}, {"customer_id": 1, "via": 1}
        )
    }


def member_rows_after(segment_id, after, limit: int) -> list:
    """Member rows in the order they joined (cursor: the row id). Not by customer id:
    range queries on an ObjectId other than ``_id`` are wrong on the stand-in."""
    query = {"segment_id": segment_id}
    if after is not None:
        query = {"$and": [query, {"_id": {"$gt": after}}]}
    return list(_members().find(query, {"customer_id": 1}).sort("_id", 1).limit(limit))


def add_members(segment_id, customer_ids: list, via) -> list:
    """Insert member rows; the customers whose row this insert wrote (not those already in)."""
    if not customer_ids:
        return []
    now = utcnow()
    docs = [{"segment_id": segment_id, "customer_id": cid, "since": now, "via": via} for cid in customer_ids]
    failed: set[int] = set()
    try:
        _members().insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        failed = _duplicates(exc)
    return [cid for i, cid in enumerate(customer_ids) if i not in failed]


def remove_members(segment_id, customer_ids) -> list:
    """Delete member rows; the customers whose row this delete removed."""
    return [
        cid
        for cid in customer_ids
        if _members().delete_one({"segment_id": segment_id, "customer_id": cid}).deleted_count
    ]


# --- recompute jobs -------------------------------------------------------------


def queue_recompute(segment_id, reason: str, key: str | None = None) -> RecomputeJob | None:
    """A new recompute job; None when one of this key exists (a periodic slot or an import's)."""
    try:
        return RecomputeJob(segment_id=segment_id, reason=reason, key=key).save()
    except me.NotUniqueError:
        return None


def find_recompute_job(job_id) -> RecomputeJob | None:
    return RecomputeJob.objects(id=job_id).first()
