"""Segments as the API manages them: create, change, archive, preview a rule,
the members of a static segment, and full recomputes asked for.

A dynamic segment has a rule (compiled to one customers filter, stored beside
it) and is filled by a recompute job; a static one lists its members and has no
rule. An archived segment is not found (only a repeated archive still finds it).
"""

from __future__ import annotations

from bson import ObjectId, json_util
from bson.errors import InvalidId
from pymongo.errors import ExecutionTimeout

from services.segments.errors import InvalidFields
from services.segments.membership import Membership, dependencies
from services.segments.models import RecomputeJob
from services.segments.profile_reads import near_floor
from services.segments.rules import Compiled, RuleError, compile_rule
from services.segments.store import customers as customer_store
from services.segments.store import segments as store
from shared.audience import EXCLUDED, resolve
from shared.errors import Conflict, NotFound
from shared.models import Segment
from shared.normalize import email_key
from shared.store import utcnow

MAX_STATIC_CHANGE = 10_000  # people per call


def compiled(rule, personal: bool = True) -> tuple[str, Compiled]:
    """(the stored filter, the compiled rule); 422 naming every offending node."""
    try:
        result = compile_rule(rule, personal=personal)
    except RuleError as exc:
        raise InvalidFields(exc.fields, message=f"Invalid rule: {', '.join(sorted(exc.fields))}") from None
    return json_util.dumps(result.filter), result


def _no_rule(message: str) -> InvalidFields:
    return InvalidFields({"rule": [message]})


def load(segment_id: ObjectId, raw_id: str, archived: bool = False) -> Segment:
    segment = store.find_segment(segment_id)
    if segment is None or (segment.archived and not archived):
        raise NotFound("segment", raw_id)
    return segment


def summary(segment: Segment) -> dict:
    """What the rule reads, whether it holds relative times, and how many members it has."""
    depends_on, relative = dependencies(segment) if segment.kind == "dynamic" else (set(), False)
    return {
        "depends_on": sorted(depends_on),
        "relative_time": relative,
        "members": store.count_members(segment.id),
    }


def page(limit: int, after) -> tuple[list[Segment], int, str | None]:
    return store.page_segments(limit, after)


def create(name: str, description: str | None, kind: str, rule) -> Segment:
    """A new segment; a dynamic one is filled by a recompute job right away."""
    segment = Segment(name=name, description=description, kind=kind)
    if kind == "dynamic":
        if rule is None:
            raise _no_rule("A dynamic segment needs a rule.")
        segment.rule = rule
        segment.compiled, _ = compiled(rule)
    elif rule is not None:
        raise _no_rule("A static segment lists its members; it has no rule.")
    store.save_segment(segment)
    if kind == "dynamic":
        store.queue_recompute(segment.id, "created")
    return segment


def change(segment: Segment, fields: dict) -> Segment:
    """Rename, describe or change the rule (a new rule queues a recompute)."""
    if "rule" in fields:
        if segment.kind != "dynamic":
            raise _no_rule("A static segment has no rule.")
        segment.rule = fields["rule"]
        segment.compiled, _ = compiled(fields["rule"])
    for name in ("name", "description"):
        if name in fields:
            setattr(segment, name, fields[name])
    segment.updated_at = utcnow()
    store.save_segment(segment)
    if "rule" in fields:
        store.queue_recompute(segment.id, "rule_changed")
    return segment


def archive(segment: Segment) -> None:
    """No longer listed, fetched nor kept fresh (campaigns using it keep its id)."""
    store.archive_segment(segment.id)


def preview(rule, sample: int, personal: bool, max_time_ms: int) -> tuple[int, list[dict]]:
    """(how many customers the rule selects now, the first ``sample`` of them).

    ``personal=False``: an analyst may not count on personal fields (it would unmask them),
    nor in a near circle too small or holding too few people (profile_reads.near_floor)."""
    stored, _ = compiled(rule, personal=personal)
    query = {"$and": [resolve(json_util.loads(stored)), EXCLUDED]}
    try:
        if not personal:
            near_floor(rule, max_time_ms)
        rows, count = customer_store.sample_and_count(query, sample, max_time_ms)
    except ExecutionTimeout:
        raise InvalidFields(
            {"rule": [f"took longer than {max_time_ms} ms to evaluate"]},
            message=f"The rule took longer than {max_time_ms} ms to evaluate: simplify it (fewer near, "
            "purchases-over-days or contains conditions)",
            code="rule_too_slow",
        ) from None
    return count, rows


def members(segment: Segment, limit: int, after) -> tuple[list[dict], int, str | None]:
    """Current members' profiles in the order they joined (erased ones left out), the member
    count and the next cursor (a member row's id)."""
    rows = store.member_rows_after(segment.id, after, limit + 1)
    more = len(rows) > limit
    ids = [r["customer_id"] for r in rows[:limit]]
    docs = customer_store.customers_by_ids(ids)
    profiles = [docs[i] for i in ids if i in docs and not docs[i].get("erased")]
    return profiles, store.count_members(segment.id), (str(rows[limit - 1]["_id"]) if more else None)


def every_member(segment: Segment, batch: int = 1000):
    """Every member's profile (erased ones left out), a batch at a time (lists)."""
    after = None
    while True:
        rows = store.member_rows_after(segment.id, after, batch)
        if not rows:
            return
        after = rows[-1]["_id"]
        ids = [r["customer_id"] for r in rows]
        docs = customer_store.customers_by_ids(ids)
        yield [docs[cid] for cid in ids if cid in docs and not docs[cid].get("erased")]


def change_static_members(
    parts, segment: Segment, customer_ids: list, emails: list, external_ids: list, remove: bool
) -> dict:
    """Add (or take out) people of a static segment, by id, email or external id:
    {"added", "removed", "not_found": the values that matched nobody}."""
    if segment.kind != "static":
        raise Conflict("a dynamic segment's members follow its rule", kind=segment.kind)
    wanted = customer_ids + emails + external_ids
    if len(wanted) > MAX_STATIC_CHANGE:
        raise InvalidFields(
            {"customer_ids": ["At most 10,000 people per call."]},
            message="Invalid json: at most 10,000 people per call",
        )
    ids = []
    for raw in customer_ids:
        try:
            ids.append(ObjectId(raw))
        except (InvalidId, TypeError):
            pass
    query = {
        "$and": [
            EXCLUDED,
            {
                "$or": [
                    {"_id": {"$in": ids}},
                    {"email": {"$in": [email_key(e) for e in emails]}},
                    {"external_id": {"$in": external_ids}},
                ]
            },
        ]
    }
    found = customer_store.find_customers(query, {"email": 1, "external_id": 1})
    known = (
        {str(d["_id"]) for d in found}
        | {d.get("email") for d in found}
        | {d.get("external_id") for d in found}
    )
    missing = [w for w in wanted if w not in known and email_key(w) not in known]
    kind = "left" if remove else "entered"
    done = Membership(parts).apply([(segment.id, cid, kind) for cid in sorted(d["_id"] for d in found)])
    return {"added": done["entered"], "removed": done["left"], "not_found": missing}


def request_recompute(segment: Segment) -> RecomputeJob:
    """Queue a full recompute of an active dynamic segment."""
    if segment.kind != "dynamic" or segment.archived:
        raise Conflict("only an active dynamic segment can be recomputed", kind=segment.kind)
    return store.queue_recompute(segment.id, "api")


def recompute_job(job_id: ObjectId, raw_id: str) -> RecomputeJob:
    job = store.find_recompute_job(job_id)
    if job is None:
        raise NotFound("recompute job", raw_id)
    return job
