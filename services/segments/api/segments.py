"""Segments: dynamic (a rule, compiled to one customers filter) and static
(a list); preview, members, CSV export, full recompute as a job."""

from __future__ import annotations

import io

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Dict, Integer, List, Nested, String
from flask import Response, stream_with_context

from services.segments import catalog, profile_reads
from services.segments.api.common import jsonable, settings
from services.segments.api.customers import CustomerOut, serialize
from services.segments.api.schemas import MembersIn, PreviewIn, SegmentIn, SegmentPatch, SpreadsheetQuery
from services.segments.models import RecomputeJob
from shared import export
from shared.bootstrap import current
from shared.http.auth import current_role, mask_personal, roles
from shared.http.paging import PageQuery, cursor_id, object_id, page_of
from shared.models import Segment

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


SegmentPage = page_of("SegmentPage", SegmentOut)


class PreviewOut(Schema):
    count = Integer()
    sample = List(Nested(CustomerOut))


MemberPage = page_of("MemberPage", CustomerOut)


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


def _out(segment: Segment) -> dict:
    summary = catalog.summary(segment)
    return {
        "id": str(segment.id),
        "name": segment.name,
        "description": segment.description,
        "kind": segment.kind,
        "rule": profile_reads.rule_as_seen(segment.rule or {}, current_role() == "analyst"),
        "depends_on": summary["depends_on"],
        "relative_time": summary["relative_time"],
        "archived": segment.archived,
        "members": summary["members"],
        "created_at": jsonable(segment.created_at),
        "updated_at": jsonable(segment.updated_at),
    }


def _load(segment_id: str, archived: bool = False) -> Segment:
    """The segment; an archived one is 404 (only a repeated DELETE still finds it)."""
    return catalog.load(object_id(segment_id, "segment"), segment_id, archived=archived)


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
    segment = catalog.create(
        json_data["name"], json_data.get("description"), json_data["kind"], json_data.get("rule")
    )
    return _out(segment)


@bp.get("/segments")
@bp.input(PageQuery, location="query")
@bp.output(SegmentPage)
@roles("marketer", "analyst", "community_manager")
def list_segments(query_data):
    """Segments not archived, oldest first."""
    segments, total, following = catalog.page(query_data["limit"], cursor_id(query_data))
    return {"items": [_out(segment) for segment in segments], "total": total, "next": following}


@bp.post("/segments/preview")
@bp.input(PreviewIn)
@bp.output(PreviewOut)
@bp.doc(responses={422: "invalid rule, or a rule that took longer than VINCULO_RULE_MAX_TIME_MS"})
@roles("marketer", "analyst")
def preview_segment(json_data):
    """Count and sample the customers a rule selects now, before saving it."""
    count, sample = catalog.preview(
        json_data["rule"],
        json_data["sample"],
        personal=current_role() != "analyst",  # analysts may not count on personal fields
        max_time_ms=settings().rule_max_time_ms,
    )
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
    return _out(catalog.change(_load(segment_id), json_data))


@bp.delete("/segments/<segment_id>")
@bp.output({}, status_code=204)
@roles("marketer")
def archive_segment(segment_id):
    """Archive a segment: no longer listed, fetched nor kept fresh (campaigns using it keep its id)."""
    catalog.archive(_load(segment_id, archived=True))
    return ""


@bp.get("/segments/<segment_id>/members")
@bp.input(PageQuery, location="query")
@bp.output(MemberPage)
@roles("marketer", "analyst")
def list_members(segment_id, query_data):
    """Current members in the order they joined, with a cursor."""
    profiles, total, following = catalog.members(
        _load(segment_id), query_data["limit"], cursor_id(query_data)
    )
    return {"items": [serialize(doc) for doc in profiles], "total": total, "next": following}


@bp.get("/segments/<segment_id>/export.csv")
@bp.input(SpreadsheetQuery, location="query")
@bp.doc(responses={200: {"description": "CSV of the members", "content": {"text/csv": {}}}})
@roles("marketer", "analyst")
def export_members(segment_id, query_data):
    """Every member as CSV, streamed (personal data masked for analysts)."""
    segment = _load(segment_id)
    role = current_role()

    def generate():
        buffer = io.StringIO()
        writer = export.writer(buffer, excel=query_data["excel"])  # no cell read as a formula
        writer.writerow(EXPORT_FIELDS)
        for docs in catalog.every_member(segment):
            for doc in docs:
                out = mask_personal(
                    {"id": str(doc["_id"]), **{f: doc.get(f) for f in EXPORT_FIELDS[1:]}}, role
                )
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
    return catalog.change_static_members(
        current(),
        _load(segment_id),
        json_data["customer_ids"],
        json_data["emails"],
        json_data["external_ids"],
        json_data["remove"],
    )


@bp.post("/segments/<segment_id>/recompute")
@bp.output(JobOut, status_code=202)
@roles("marketer")
def recompute_segment(segment_id):
    """Queue a full recompute of a dynamic segment (a job; follow it at /segments/recomputes/<id>)."""
    return _job_out(catalog.request_recompute(_load(segment_id)))


@bp.get("/segments/recomputes/<job_id>")
@bp.output(JobOut)
@roles("marketer", "analyst")
def get_recompute(job_id):
    """A recompute job's progress."""
    return _job_out(catalog.recompute_job(object_id(job_id, "recompute job"), job_id))
