"""Resolve a segment's audience straight from the store.

A dynamic segment carries its rule compiled to one customers filter (with
``{"__now__": seconds}`` placeholders for relative times); a static segment
lists its members in ``segment_members``. Either way the audience is read in
ascending customer id order, in batches, after a checkpoint id, so a fan-out
can stop anywhere and resume with nothing skipped or repeated.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

from bson import ObjectId, json_util

from shared.models.customer import Customer
from shared.models.segment import Segment, SegmentMember
from shared.store import utcnow

# Never in an audience, whatever the rule says.
EXCLUDED = {"erased": {"$ne": True}}
# Server-side time limit (maxTimeMS) of each query built from a rule, so one costly rule
# cannot hold the store for everyone (VINCULO_RULE_MAX_TIME_MS; SECURITY.md).
RULE_MAX_TIME_MS = 10_000


def resolve(compiled, now: datetime.datetime | None = None):
    """Replace every ``{"__now__": seconds}`` with ``now + seconds``."""
    now = now or utcnow()
    if isinstance(compiled, dict):
        if set(compiled) == {"__now__"}:
            return now + datetime.timedelta(seconds=compiled["__now__"])
        return {key: resolve(value, now) for key, value in compiled.items()}
    if isinstance(compiled, list):
        return [resolve(item, now) for item in compiled]
    return compiled


def customer_filter(segment: Segment, now: datetime.datetime | None = None) -> dict:
    """The customers filter of a dynamic segment, ready for the store."""
    if segment.kind != "dynamic":
        raise ValueError(f"segment {segment.id} is {segment.kind}: its members are listed, not queried")
    if not segment.compiled:
        raise ValueError(f"segment {segment.id} has no compiled rule")
    return {"$and": [resolve(json_util.loads(segment.compiled), now), EXCLUDED]}


def iter_audience(
    segment: Segment,
    after: ObjectId | None = None,
    batch_size: int = 1000,
    now: datetime.datetime | None = None,
    max_time_ms: int = RULE_MAX_TIME_MS,
) -> Iterator[list[ObjectId]]:
    """Batches of customer ids in ascending order, starting after ``after``; each batch's query
    is stopped by the store past ``max_time_ms`` (pymongo's ExecutionTimeout)."""
    if segment.kind == "dynamic":
        base = customer_filter(segment, now)
        collection, id_field = Customer._get_collection(), "_id"
    else:
        base = {"segment_id": segment.id}
        collection, id_field = SegmentMember._get_collection(), "customer_id"
    while True:
        query = dict(base) if after is None else {"$and": [base, {id_field: {"$gt": after}}]}
        rows = list(
            collection.find(query, {id_field: 1}, max_time_ms=max_time_ms).sort(id_field, 1).limit(batch_size)
        )
        if not rows:
            return
        ids = [row[id_field] for row in rows]
        yield ids
        after = ids[-1]
