"""Segments: dynamic (a rule, compiled to one customers filter) and static
(a list); preview, members, CSV export, full recompute as a job."""

from __future__ import annotations

import io

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range
from bson import json_util
from flask import Response, stream_with_context
from pymongo.errors import ExecutionTimeout

from services.segments.api.common import jsonable, settings
from services.segments.api.customers import CustomerOut, serialize
from services.segments.jobqueue import queue_recompute
from services.segments.membership import Membership, dependencies
from services.segments.models import RecomputeJob
from services.segments.rules import RuleError, compile_rule
from shared import export
from shared.audience import EXCLUDED, resolve
from shared.bootstrap import current
from shared.http.auth import mask_personal, roles
from shared.http.errors import ApiError, not_found
from shared.http.paging import PageQuery, cursor_id, object_id, page
from shared.models import Customer, Segment, SegmentMember
from shared.store import utcnow

bp = APIBlueprint("segments", __name__, tag="segments")

EXPORT_FIELDS = (
    "id",
    "external_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "locale",
    "country",
    "city",
    "stage",
)


class SegmentIn(Schema):
    name = String(required=True, validate=Length(min=1, max=200))
    description = String(load_default=None, validate=Length(max=2000), metadata={"multiline": True})
    kind = String(load_default="dynamic", validate=OneOf(("dynamic", "static")))
    rule = Dict(
        load_default=None,
        metadata={
            "description": "the rule tree (dynamic segments); see README",
            "example": {"all": [{"field": "country", "op": "eq", "value": "ES"}]},
        },
    )


class SegmentPatch(Schema):
    name = String(validate=Length(min=1, max=200))
    description = String(allow_none=True, validate=Length(max=2000), metadata={"multiline": True})
    rule = Dict()


class SegmentOut(Schema):
    id = String()
    name = String()
    description = String(allow_none=True)
    kind = String()
    rule = Dict()
    depends_on = List(String())
    relative_time = Boolean(
        metadata={"description": "true: membership drifts with time; recomputed periodically"}
    )
    members = Integer()
    archived = Boolean()
    created_at = String()
    updated_at = String()


class SegmentPage(Schema):
    items = List(Nested(SegmentOut))
    total = Integer()
    next = String(allow_none=True)


class PreviewIn(Schema):
    rule = Dict(required=True)
    sample = Integer(load_default=10, validate=Range(min=0, max=100))


class PreviewOut(Schema):
    count = Integer()
    sample = List(Nested(CustomerOut))


class MemberPage(Schema):
    items = List(Nested(CustomerOut))
    total = Integer()
    next = String(allow_none=True)


class MembersIn(Schema):
    customer_ids = List(String(), load_default=list)
    emails = List(String(), load_default=list)
    external_ids = List(String(), load_default=list)
    remove = Boolean(load_default=False, metadata={"description": "true: take these people out"})


class MembersOut(Schema):
    added = Integer()
    removed = Integer()
    not_found = List(String())


class JobOut(Schema):
    id = String()
    segment_id = String()
    status = String()
    reason = String()
    evaluated = Integer()
    entered = Integer()
    left = Integer()
    members = Integer()
    error = String(allow_none=True)
    created_at = String()
    finished_at = String(allow_none=True)


def _compile(rule, personal: bool = True) -> tuple[str, object]:
    try:
        compiled = compile_rule(rule, personal=personal)
    except RuleError as exc:
        raise ApiError(
            422,
            f"Invalid rule: {', '.join(sorted(exc.fields))}",
            error="validation_error",
            location="json",
            fields=exc.fields,
        ) from None
    return json_util.dumps(compiled.filter), compiled


def _out(segment: Segment) -> dict:
    depends_on, relative = dependencies(segment) if segment.kind == "dynamic" else (set(), False)
    return {
        "id": str(segment.id),
        "name": segment.name,
        "description": segment.description,
        "kind": segment.kind,
        "rule": segment.rule or {},
        "depends_on": sorted(depends_on),
        "relative_time": relative,
        "archived": segment.archived,
        "members": SegmentMember.objects(segment_id=segment.id).count(),
        "created_at": jsonable(segment.created_at),
        "updated_at": jsonable(segment.updated_at),
    }


def _load(segment_id: str, archived: bool = False) -> Segment:
    """The segment; an archived one is 404 (only a repeated DELETE still finds it)."""
    segment = Segment.objects(id=object_id(segment_id, "segment")).first()
    if segment is None or (segment.archived and not archived):
        raise not_found("segment", segment_id)
    return segment


def _job_out(job: RecomputeJob) -> dict:
    return {
        "id": str(job.id),
        "segment_id": str(job.segment_id),
        "status": job.status,
        "reason": job.reason,
        "evaluated": job.evaluated,
        "entered": job.entered,
        "left": job.left,
        "members": job.members,
        "error": job.error,
        "created_at": jsonable(job.created_at),
        "finished_at": jsonable(job.finished_at),
    }


@bp.post("/segments")
@bp.input(SegmentIn)
@bp.output(SegmentOut, status_code=201)
@bp.doc(responses={422: "invalid rule: details.fields names the node, e.g. rule.all.2.value"})
@roles("marketer")
def create_segment(json_data):
    """Create a segment; a dynamic one is filled by a recompute job right away."""
    segment = Segment(
        name=json_data["name"], description=json_data.get("description"), kind=json_data["kind"]
    )
    if segment.kind == "dynamic":
        if json_data.get("rule") is None:
            raise ApiError(
                422,
                "Invalid json: rule",
                error="validation_error",
                location="json",
                fields={"rule": ["A dynamic segment needs a rule."]},
            )
        segment.rule = json_data["rule"]
        segment.compiled, _ = _compile(json_data["rule"])
    elif json_data.get("rule") is not None:
        raise ApiError(
            422,
            "Invalid json: rule",
            error="validation_error",
            location="json",
            fields={"rule": ["A static segment lists its members; it has no rule."]},
        )
    segment.save()
    if segment.kind == "dynamic":
        queue_recompute(segment.id, "created")
    return _out(segment)


@bp.get("/segments")
@bp.input(PageQuery, location="query")
@bp.output(SegmentPage)
@roles("marketer", "analyst", "community_manager")
def list_segments(query_data):
    """Segments not archived, oldest first."""
    rows, total, following = page(
        Segment._get_collection(),
        {"archived": {"$ne": True}},
        query_data["limit"],
        cursor_id(query_data),
        {"_id": 1},
    )
    by_id = {s.id: s for s in Segment.objects(id__in=[r["_id"] for r in rows])}
    return {"items": [_out(by_id[r["_id"]]) for r in rows], "total": total, "next": following}


@bp.post("/segments/preview")
@bp.input(PreviewIn)
@bp.output(PreviewOut)
@bp.doc(responses={422: "invalid rule, or a rule that took longer than VINCULO_RULE_MAX_TIME_MS"})
@roles("marketer", "analyst")
def preview_segment(json_data):
    """Count and sample the customers a rule selects now, before saving it."""
    from shared.http.auth import (
        current_role,
    )  # analysts may not count on personal fields: it would unmask them

    compiled, _ = _compile(json_data["rule"], personal=current_role() != "analyst")
    query = {"$and": [resolve(json_util.loads(compiled)), EXCLUDED]}
    collection = Customer._get_collection()
    limit = settings().rule_max_time_ms
    try:
        sample = (
            list(collection.find(query, max_time_ms=limit).sort("_id", 1).limit(json_data["sample"]))
            if json_data["sample"]
            else []
        )
        count = collection.count_documents(query, maxTimeMS=limit)
    except ExecutionTimeout:
        raise ApiError(
            422,
            f"The rule took longer than {limit} ms to evaluate: simplify it (fewer near, "
            "purchases-over-days or contains conditions)",
            error="rule_too_slow",
            location="json",
            fields={"rule": [f"took longer than {limit} ms to evaluate"]},
        ) from None
    return {"count": count, "sample": [serialize(doc) for doc in sample]}


@bp.get("/segments/<segment_id>")
@bp.output(SegmentOut)
@roles("marketer", "analyst", "community_manager")
def get_segment(segment_id):
    """One segment, with its member count."""
    return _out(_load(segment_id))


@bp.patch("/segments/<segment_id>")
@bp.input(SegmentPatch)
@bp.output(SegmentOut)
@roles("marketer")
def update_segment(segment_id, json_data):
    """Rename, describe or change the rule (a new rule queues a recompute)."""
    segment = _load(segment_id)
    if "rule" in json_data:
        if segment.kind != "dynamic":
            raise ApiError(
                422,
                "Invalid json: rule",
                error="validation_error",
                location="json",
                fields={"rule": ["A static segment has no rule."]},
            )
        segment.rule = json_data["rule"]
        segment.compiled, _ = _compile(json_data["rule"])
    for field in ("name", "description"):
        if field in json_data:
            setattr(segment, field, json_data[field])
    segment.updated_at = utcnow()
    segment.save()
    if "rule" in json_data:
        queue_recompute(segment.id, "rule_changed")
    return _out(segment)


@bp.delete("/segments/<segment_id>")
@bp.output({}, status_code=204)
@roles("marketer")
def archive_segment(segment_id):
    """Archive a segment: no longer listed, fetched nor kept fresh (campaigns using it keep its id)."""
    segment = _load(segment_id, archived=True)
    Segment.objects(id=segment.id).update_one(set__archived=True, set__updated_at=utcnow())
    return ""


def _member_rows(segment: Segment, after, limit: int):
    """Member rows in the order they joined (cursor: the row id). Not by
    customer id: range queries on an ObjectId other than _id are wrong on
    the stand-in."""
    query = {"segment_id": segment.id}
    if after is not None:
        query = {"$and": [query, {"_id": {"$gt": after}}]}
    return list(SegmentMember._get_collection().find(query, {"customer_id": 1}).sort("_id", 1).limit(limit))


@bp.get("/segments/<segment_id>/members")
@bp.input(PageQuery, location="query")
@bp.output(MemberPage)
@roles("marketer", "analyst")
def list_members(segment_id, query_data):
    """Current members in the order they joined, with a cursor."""
    segment = _load(segment_id)
    limit = query_data["limit"]
    rows = _member_rows(segment, cursor_id(query_data), limit + 1)
    more = len(rows) > limit
    ids = [r["customer_id"] for r in rows[:limit]]
    docs = {d["_id"]: d for d in Customer._get_collection().find({"_id": {"$in": ids}})}
    items = [serialize(docs[i]) for i in ids if i in docs and not docs[i].get("erased")]
    return {
        "items": items,
        "total": SegmentMember.objects(segment_id=segment.id).count(),
        "next": str(rows[limit - 1]["_id"]) if more else None,
    }


@bp.get("/segments/<segment_id>/export.csv")
@bp.doc(responses={200: {"description": "CSV of the members", "content": {"text/csv": {}}}})
@roles("marketer", "analyst")
def export_members(segment_id):
    """Every member as CSV, streamed (personal data masked for analysts)."""
    segment = _load(segment_id)
    from shared.http.auth import current_role

    role = current_role()

    def generate():
        buffer = io.StringIO()
        writer = export.writer(buffer)  # no cell a spreadsheet would read as a formula
        writer.writerow(EXPORT_FIELDS)
        after = None
        while True:
            rows = _member_rows(segment, after, 1000)
            if not rows:
                break
            after = rows[-1]["_id"]
            ids = [r["customer_id"] for r in rows]
            docs = {d["_id"]: d for d in Customer._get_collection().find({"_id": {"$in": ids}})}
            for cid in ids:
                doc = docs.get(cid)
                if doc is None or doc.get("erased"):
                    continue
                out = mask_personal({"id": str(cid), **{f: doc.get(f) for f in EXPORT_FIELDS[1:]}}, role)
                writer.writerow([out.get(f) or "" for f in EXPORT_FIELDS])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    filename = f"segment-{segment.id}.csv"
    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.post("/segments/<segment_id>/members")
@bp.input(MembersIn)
@bp.output(MembersOut)
@roles("marketer")
def change_static_members(segment_id, json_data):
    """Add (or with remove=true take out) people of a static segment, by id, email or external id."""
    segment = _load(segment_id)
    if segment.kind != "static":
        raise ApiError(409, "a dynamic segment's members follow its rule", kind=segment.kind)
    wanted = json_data["customer_ids"] + json_data["emails"] + json_data["external_ids"]
    if len(wanted) > 10000:
        raise ApiError(
            422,
            "Invalid json: at most 10,000 people per call",
            error="validation_error",
            location="json",
            fields={"customer_ids": ["At most 10,000 people per call."]},
        )
    from bson import ObjectId
    from bson.errors import InvalidId

    ids = []
    for raw in json_data["customer_ids"]:
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
                    {"email": {"$in": [e.strip().lower() for e in json_data["emails"]]}},
                    {"external_id": {"$in": json_data["external_ids"]}},
                ]
            },
        ]
    }
    found = list(Customer._get_collection().find(query, {"email": 1, "external_id": 1}))
    known = (
        {str(d["_id"]) for d in found}
        | {d.get("email") for d in found}
        | {d.get("external_id") for d in found}
    )
    missing = [w for w in wanted if w not in known and w.strip().lower() not in known]
    membership = Membership(current())
    customer_ids = sorted(d["_id"] for d in found)
    kind = "left" if json_data["remove"] else "entered"
    done = membership.apply([(segment.id, cid, kind) for cid in customer_ids])
    return {"added": done["entered"], "removed": done["left"], "not_found": missing}


@bp.post("/segments/<segment_id>/recompute")
@bp.output(JobOut, status_code=202)
@roles("marketer")
def recompute_segment(segment_id):
    """Queue a full recompute of a dynamic segment (a job; follow it at /segments/recomputes/<id>)."""
    segment = _load(segment_id)
    if segment.kind != "dynamic" or segment.archived:
        raise ApiError(409, "only an active dynamic segment can be recomputed", kind=segment.kind)
    return _job_out(queue_recompute(segment.id, "api"))


@bp.get("/segments/recomputes/<job_id>")
@bp.output(JobOut)
@roles("marketer", "analyst")
def get_recompute(job_id):
    """A recompute job's progress."""
    job = RecomputeJob.objects(id=object_id(job_id, "recompute job")).first()
    if job is None:
        raise not_found("recompute job", job_id)
    return _job_out(job)
