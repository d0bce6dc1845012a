"""Segment membership: incremental (a few customers, after a change) and full
(one segment, as a job). Both apply the same compiled filter and write the
same unique (segment, customer) rows, so they agree; the unique row is also
the guard that makes segment.entered / segment.left go out once per real
change, whichever worker or job sees it first.

No announcement is lost to a crash between the row's write and the publish:
each set of changes first writes an outbox intent listing them (kind
``segment.membership``, ``shared.messaging.outbox``), the rows written carry
that intent's id (``via``), and the intent is dropped once the events are
published (or kept in the outbox). The outbox relay (the worker's idle task;
``sweep`` runs it for this kind) announces what a crash left behind, with the
same message ids, so consumers drop the copies: ``resolve`` finds an entry
whose row still carries the intent's id, a departure whose row is gone.
"""

from __future__ import annotations

import collections
import logging
import uuid
from collections.abc import Iterable

from bson import ObjectId

from services.segments.events import PRODUCER
from services.segments.rules import RuleError, affected, compile_rule
from services.segments.store import customers as customer_store
from services.segments.store import segments as store
from shared.audience import RULE_MAX_TIME_MS, customer_filter
from shared.logs import get_correlation_id
from shared.messaging import outbox as outboxes
from shared.messaging.contracts import Envelope, SegmentEntered, SegmentLeft, envelope_for
from shared.models import Segment

log = logging.getLogger(__name__)

_deps_cache: dict[tuple, tuple[set, bool]] = {}
_IDS = uuid.UUID("3d1c5e0a-7b94-4f0e-9a51-0c2f6b8d4e17")
EVENTS = {"entered": SegmentEntered, "left": SegmentLeft}
KIND = "segment.membership"


def pending_collection():
    """The outbox intents (membership changes being written are those of kind ``KIND``)."""
    return outboxes.intents()


def message_id_for(record_id: ObjectId, segment_id: ObjectId, customer_id: ObjectId, kind: str) -> str:
    """The same id each time the same change is announced."""
    return uuid.uuid5(_IDS, f"{record_id}:{segment_id}:{customer_id}:{kind}").hex


def envelopes(record: ObjectId, happened: list, correlation_ids: dict) -> list[Envelope]:
    """segment.entered / segment.left of the changes that happened, with their record's ids."""
    current = get_correlation_id()
    return [
        envelope_for(
            EVENTS[kind](segment_id=str(segment), customer_id=str(cid)),
            PRODUCER,
            correlation_ids.get(cid) or current,
            message_id_for(record, segment, cid, kind),
        )
        for segment, cid, kind in happened
    ]


def resolve(record: dict) -> list:
    """The changes of an intent that happened (its rows read with one query per segment):
    an entry whose row still carries the intent's id, a departure whose row is gone."""
    by_segment: dict = collections.defaultdict(list)
    for change in record.get("changes") or []:
        by_segment[change["segment_id"]].append(change)
    happened = []
    for segment, changes in by_segment.items():
        via = store.member_marks(segment, [c["customer_id"] for c in changes])
        for change in changes:
            cid, kind = change["customer_id"], change["kind"]
            if (via.get(cid) == record["_id"]) if kind == "entered" else cid not in via:
                happened.append((segment, cid, kind))
    return envelopes(record["_id"], happened, {})


outboxes.register(KIND, PRODUCER, resolve)


def dependencies(segment: Segment) -> tuple[set[str], bool]:
    """(fields the rule reads, whether it holds relative times), cached per version."""
    key = (segment.id, segment.updated_at)
    if key not in _deps_cache:
        try:
            compiled = compile_rule(segment.rule, cost_limits=False)
            _deps_cache[key] = (compiled.depends_on, compiled.relative)
        except RuleError:
            _deps_cache[key] = ({"*"}, False)
    return _deps_cache[key]


def active_dynamic() -> list[Segment]:
    return store.active_dynamic_segments()


class Membership:
    """Applies membership changes and announces them (``announce=False``: silently)."""

    def __init__(self, parts, announce: bool = True):
        self.parts = parts
        settings = parts.settings
        self.announce = announce
        # Queries built from a rule stop in the store past this (ExecutionTimeout: retried, then DLQ).
        self.max_time_ms = getattr(settings, "rule_max_time_ms", RULE_MAX_TIME_MS)

    def apply(
        self,
        changes: list[tuple[ObjectId, ObjectId, str]],
        correlation_ids: dict[ObjectId, str] | None = None,
    ) -> dict[str, int]:
        """Write (segment, customer, "entered" | "left") changes, then announce those that happened.

        The announcements go out together at the end (one wait for the
        broker's confirms), each with the correlation id given for its
        customer, else the current one; the record written first covers a
        crash in between (module docstring).
        """
        done = {"entered": 0, "left": 0}
        if not changes:
            return done
        outbox = self.parts.outbox
        intent = None
        if self.announce:
            intent = outbox.record(
                KIND,
                changes=[
                    {"segment_id": segment, "customer_id": cid, "kind": kind}
                    for segment, cid, kind in changes
                ],
            )
        record = intent.id if intent else ObjectId()
        grouped: dict = collections.defaultdict(list)
        for segment, cid, kind in changes:
            grouped[(segment, kind)].append(cid)
        happened: list[tuple[ObjectId, ObjectId, str]] = []
        try:
            for (segment, kind), cids in grouped.items():
                written = (
                    store.add_members(segment, cids, record)
                    if kind == "entered"
                    else store.remove_members(segment, cids)
                )
                happened += [(segment, cid, kind) for cid in written]
                done[kind] += len(written)
        except BaseException:
            # What is known to be written goes out now; the intent stays, so the relay also
            # announces writes this call could not count (a delete or insert cut off mid-way).
            if intent is not None:
                outbox.publish_envelopes(envelopes(record, happened, correlation_ids or {}))
            raise
        if intent is not None:
            outbox.announce(intent, envelopes(record, happened, correlation_ids or {}))
        return done

    def sweep(self, older_than: float = 60.0, limit: int = 20) -> int:
        """Announce the changes a crash left unannounced (the outbox relay, for this kind only)."""
        return self.parts.outbox.relay_intents([KIND], older_than=older_than, limit=limit)

    def evaluate(
        self,
        customer_ids: list[ObjectId],
        changed: Iterable[str] = ("*",),
        segments: list[Segment] | None = None,
        correlation_ids: dict[ObjectId, str] | None = None,
    ) -> dict[str, int]:
        """Re-evaluate the dynamic segments ``changed`` can affect, for these customers only.

        The segment.entered/left it causes go out together at the end (one
        wait for the broker's confirms), each with the correlation id given
        for its customer in ``correlation_ids``, else the current one.
        """
        changed = set(changed)
        if not customer_ids:
            return {"entered": 0, "left": 0}
        plan: list[tuple[ObjectId, ObjectId, str]] = []
        for segment in active_dynamic() if segments is None else segments:
            depends_on, _ = dependencies(segment)
            if not affected(depends_on, changed):
                continue
            query = {"$and": [customer_filter(segment), {"_id": {"$in": customer_ids}}]}
            matching = customer_store.matching_customer_ids(query, self.max_time_ms)
            current = store.members_among(segment.id, customer_ids)
            plan += [(segment.id, cid, "entered") for cid in sorted(matching - current)]
            plan += [(segment.id, cid, "left") for cid in sorted(current - matching)]
        return self.apply(plan, correlation_ids)

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
            batch = customer_store.matching_customer_ids_after(base, after, batch_size, self.max_time_ms)
            if not batch:
                break
            current = store.members_among(segment.id, batch)
            stats["entered"] += self.apply(
                [(segment.id, cid, "entered") for cid in sorted(set(batch) - current)]
            )["entered"]
            stats["evaluated"] += len(batch)
            if progress is not None:
                progress(stats)
            after = batch[-1]
        after = None
        while True:
            rows = store.member_rows_after(segment.id, after, batch_size)
            if not rows:
                break
            ids = [row["customer_id"] for row in rows]
            matching = customer_store.matching_customer_ids(
                {"$and": [base, {"_id": {"$in": ids}}]}, self.max_time_ms
            )
            stats["left"] += self.apply([(segment.id, cid, "left") for cid in sorted(set(ids) - matching)])[
                "left"
            ]
            if progress is not None:
                progress(stats)
            after = rows[-1]["_id"]
        stats["members"] = store.count_members(segment.id)
        return stats
