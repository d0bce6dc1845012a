"""Segment membership: incremental (a few customers, after a change) and full
(one segment, as a job). Both apply the same compiled filter and write the
same unique (segment, customer) rows, so they agree; the unique row is also
the guard that makes segment.entered / segment.left go out once per real
change, whichever worker or job sees it first.
"""

from __future__ import annotations

import logging
from typing import Iterable

from bson import ObjectId
from pymongo.errors import BulkWriteError

from shared.audience import customer_filter
from shared.messaging.contracts import SegmentEntered, SegmentLeft
from shared.models import Customer, Segment, SegmentMember
from shared.store import utcnow

from services.segments import events
from services.segments.rules import RuleError, affected, compile_rule

log = logging.getLogger(__name__)

_deps_cache: dict[tuple, tuple[set, bool]] = {}


def dependencies(segment: Segment) -> tuple[set[str], bool]:
    """(fields the rule reads, whether it holds relative times), cached per version."""
    key = (segment.id, segment.updated_at)
    if key not in _deps_cache:
        try:
            compiled = compile_rule(segment.rule)
            _deps_cache[key] = (compiled.depends_on, compiled.relative)
        except RuleError:
            _deps_cache[key] = ({"*"}, False)
    return _deps_cache[key]


def active_dynamic() -> list[Segment]:
    return list(Segment.objects(kind="dynamic", archived__ne=True).only("id", "kind", "rule", "compiled", "updated_at"))


class Membership:
    """Applies membership changes and announces them (``announce=False``: silently)."""

    def __init__(self, settings, announce: bool = True):
        self.settings = settings
        self.announce = announce
        self.members = SegmentMember._get_collection()
        self.customers = Customer._get_collection()

    def _enter(self, segment_id: ObjectId, customer_ids: list[ObjectId]) -> int:
        if not customer_ids:
            return 0
        now = utcnow()
        docs = [{"segment_id": segment_id, "customer_id": cid, "since": now} for cid in customer_ids]
        failed: set[int] = set()
        try:
            self.members.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                if error.get("code") != 11000:
                    raise
                failed.add(error["index"])
        entered = [cid for i, cid in enumerate(customer_ids) if i not in failed]
        if self.announce:
            for cid in entered:
                events.publish(self.settings, SegmentEntered(segment_id=str(segment_id), customer_id=str(cid)))
        return len(entered)

    def _leave(self, segment_id: ObjectId, customer_ids: Iterable[ObjectId]) -> int:
        left = 0
        for cid in customer_ids:
            if self.members.delete_one({"segment_id": segment_id, "customer_id": cid}).deleted_count:
                left += 1
                if self.announce:
                    events.publish(self.settings, SegmentLeft(segment_id=str(segment_id), customer_id=str(cid)))
        return left

    def evaluate(self, customer_ids: list[ObjectId], changed: Iterable[str] = ("*",),
                 segments: list[Segment] | None = None) -> dict[str, int]:
        """Re-evaluate the dynamic segments ``changed`` can affect, for these customers only."""
        changed = set(changed)
        entered = left = 0
        if not customer_ids:
            return {"entered": 0, "left": 0}
        for segment in active_dynamic() if segments is None else segments:
            depends_on, _ = dependencies(segment)
            if not affected(depends_on, changed):
                continue
            query = {"$and": [customer_filter(segment), {"_id": {"$in": customer_ids}}]}
            matching = {row["_id"] for row in self.customers.find(query, {"_id": 1})}
            current = {row["customer_id"] for row in self.members.find(
                {"segment_id": segment.id, "customer_id": {"$in": customer_ids}}, {"customer_id": 1})}
            entered += self._enter(segment.id, sorted(matching - current))
            left += self._leave(segment.id, sorted(current - matching))
        return {"entered": entered, "left": left}

    def recompute(self, segment: Segment, progress=None, batch_size: int = 2000) -> dict[str, int]:
        """Bring one segment's membership to exactly what its rule selects now.

        Two passes in bounded batches: matching customers (ascending ``_id``)
        enter if they are not members; then members (ascending member row
        ``_id``) whose customer no longer matches leave. Range queries on
        ``customer_id`` are avoided on purpose: the stand-in compares
        ObjectIds wrongly outside ``_id`` (equality and ``$in`` work).
        """
        base = customer_filter(segment)
        stats = {"evaluated": 0, "entered": 0, "left": 0, "members": 0}
        after = None
        while True:
            query = base if after is None else {"$and": [base, {"_id": {"$gt": after}}]}
            batch = [row["_id"] for row in self.customers.find(query, {"_id": 1}).sort("_id", 1).limit(batch_size)]
            if not batch:
                break
            current = {row["customer_id"] for row in self.members.find(
                {"segment_id": segment.id, "customer_id": {"$in": batch}}, {"customer_id": 1})}
            stats["entered"] += self._enter(segment.id, sorted(set(batch) - current))
            stats["evaluated"] += len(batch)
            if progress is not None:
                progress(stats)
            after = batch[-1]
        after = None
        while True:
            query = {"segment_id": segment.id}
            if after is not None:
                query = {"$and": [query, {"_id": {"$gt": after}}]}
            rows = list(self.members.find(query, {"customer_id": 1}).sort("_id", 1).limit(batch_size))
            if not rows:
                break
            ids = [row["customer_id"] for row in rows]
            matching = {row["_id"] for row in self.customers.find(
                {"$and": [base, {"_id": {"$in": ids}}]}, {"_id": 1})}
            stats["left"] += self._leave(segment.id, sorted(set(ids) - matching))
            if progress is not None:
                progress(stats)
            after = rows[-1]["_id"]
        stats["members"] = self.members.count_documents({"segment_id": segment.id})
        return stats
