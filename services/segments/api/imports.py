"""Imports of CSV and JSON Lines files as jobs: upload (stored in chunks in
the store, never whole in memory), progress, and the report of rejected rows."""

from __future__ import annotations

import io

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Dict, Float, Integer, List, String
from flask import Response, request, stream_with_context

from services.segments import uploads
from services.segments.api.common import jsonable, settings
from services.segments.api.schemas import ImportQuery, SpreadsheetQuery, StartIn
from services.segments.models import ImportJob
from shared import export
from shared.http.auth import current_role, roles
from shared.http.inputs import body_limit
from shared.http.paging import PageQuery, cursor_id, object_id, page_of

bp = APIBlueprint("imports", __name__, tag="imports")


class ImportOut(Schema):
    id = String()
    status = String()
    filename = String(allow_none=True)
    format = String()
    size = Integer()
    progress = Float(metadata={"description": "share of the file read, 0 to 1"})
    rows = Integer()
    created = Integer()
    updated = Integer()
    unchanged = Integer()
    rejected = Integer()
    skipped = Integer(metadata={"description": "suppressed or erased people, skipped on purpose"})
    consents = Integer(metadata={"description": "consent statements sent to the mailer, which records them"})
    guessed = Integer(metadata={"description": "time zones guessed from a country with several (warnings)"})
    language = String()
    encoding = String(allow_none=True)
    delimiter = String(allow_none=True)
    header = List(String())
    sample = List(List(String()), metadata={"description": "the first rows, as read"})
    mapping = Dict(
        keys=String(),
        values=String(allow_none=True),
        metadata={
            "description": "column -> profile field (null or empty: ignored); proposed from the header's names in "
            "Spanish or English, or the mapping saved for the same header"
        },
    )
    fields = List(String(), metadata={"description": "the fields a column may be mapped to"})
    error = String(allow_none=True)
    created_at = String()
    started_at = String(allow_none=True)
    finished_at = String(allow_none=True)
    report = String(metadata={"description": "URL of the CSV report of rejected rows"})


ImportPage = page_of("ImportPage", ImportOut)


class RejectionOut(Schema):
    row = Integer()
    field = String()
    reason = String()
    skipped = Boolean()
    warning = Boolean(metadata={"description": "imported; something was guessed (e.g. the time zone)"})


RejectionPage = page_of("RejectionPage", RejectionOut)


def _out(job: ImportJob) -> dict:
    progress = 1.0 if job.status == "done" else (min(job.bytes_read / job.size, 1.0) if job.size else 0.0)
    return {
        "id": str(job.id),
        "status": job.status,
        "filename": job.filename,
        "format": job.format,
        "size": job.size,
        "progress": round(progress, 4),
        "rows": job.rows,
        "created": job.created,
        "updated": job.updated,
        "unchanged": job.unchanged,
        "rejected": job.rejected,
        "skipped": job.skipped,
        "consents": job.consents,
        "language": job.language,
        "guessed": job.guessed,
        "encoding": job.encoding,
        "delimiter": job.delimiter,
        "header": job.header or [],
        "sample": uploads.sample_as_seen(job, current_role() == "analyst"),
        "mapping": job.mapping or {},
        "fields": uploads.FIELDS,
        "error": job.error,
        "created_at": jsonable(job.created_at),
        "started_at": jsonable(job.started_at),
        "finished_at": jsonable(job.finished_at),
        "report": f"/imports/{job.id}/report.csv",
    }


def _load(job_id: str) -> ImportJob:
    return uploads.load(object_id(job_id, "import"), job_id)


@bp.post("/imports")
@bp.input(ImportQuery, location="query")
@bp.output(ImportOut, status_code=202)
@bp.doc(
    description="Send the file as multipart form field `file`, or as the raw request body "
    "(text/csv or application/x-ndjson). Columns / keys: external_id, email, phone, "
    "first_name, last_name, locale, time_zone, country, city, stage, tags (separated by ; "
    "or |), lat, lng, attributes.<name>, social.<network>, consent.<channel>.<topic> "
    "(granted, pending or revoked) with consent.source, consent.date and a proof "
    "(consent.wording, consent.ip or consent.form): the mailer records them. The worker processes it; follow "
    "the job at /imports/<id>.",
    responses={413: "file too large", 422: "no file or unknown format"},
)
@roles("marketer")
@body_limit("import_max_bytes")
def create_import(query_data):
    """Upload a CSV or JSON Lines file of customers; it is imported by a job."""
    upload = request.files.get("file") if request.mimetype == "multipart/form-data" else None
    filename = query_data.get("filename") or (upload.filename if upload else None)
    fmt = uploads.file_format(query_data.get("format"), filename, request.mimetype or "")
    job = uploads.upload(
        settings(),
        upload.stream if upload is not None else request.stream,
        filename=filename,
        fmt=fmt,
        country=(query_data.get("default_country") or settings().default_country).upper(),
        language=query_data["lang"],
        review=query_data["review"],
        empty_location="files" if upload else "body",
    )
    return _out(job)


@bp.post("/imports/<job_id>/start")
@bp.input(StartIn)
@bp.output(ImportOut, status_code=202)
@bp.doc(responses={409: "the import is not waiting for its mapping"})
@roles("marketer")
def start_import(job_id, json_data):
    """Confirm the column mapping of an import uploaded with review=true; the worker runs it."""
    return _out(uploads.start(_load(job_id), json_data["mapping"], json_data["remember"]))


@bp.get("/imports")
@bp.input(PageQuery, location="query")
@bp.output(ImportPage)
@roles("marketer", "analyst")
def list_imports(query_data):
    """Import jobs, newest first (the one just uploaded heads the list)."""
    jobs, total, following = uploads.page(query_data["limit"], cursor_id(query_data))
    return {"items": [_out(job) for job in jobs], "total": total, "next": following}


@bp.get("/imports/<job_id>")
@bp.output(ImportOut)
@roles("marketer", "analyst")
def get_import(job_id):
    """An import's status and progress."""
    return _out(_load(job_id))


@bp.get("/imports/<job_id>/rejections")
@bp.input(PageQuery, location="query")
@bp.output(RejectionPage)
@roles("marketer", "analyst")
def list_rejections(job_id, query_data):
    """Rejected and skipped rows: line number, field, reason."""
    rows, total, following = uploads.rejections(_load(job_id), query_data["limit"], cursor_id(query_data))
    return {
        "items": [
            {
                "row": r["row"],
                "field": r["field"],
                "reason": r["reason"],
                "skipped": r.get("skipped", False),
                "warning": r.get("warning", False),
            }
            for r in rows
        ],
        "total": total,
        "next": following,
    }


@bp.get("/imports/<job_id>/report.csv")
@bp.input(SpreadsheetQuery, location="query")
@bp.doc(responses={200: {"description": "every rejected or skipped row", "content": {"text/csv": {}}}})
@roles("marketer", "analyst")
def import_report(job_id, query_data):
    """The report of every rejected or skipped row and every guess, as CSV (row, field, reason, skipped, warning)."""
    job = _load(job_id)

    def generate():
        buffer = io.StringIO()
        writer = export.writer(buffer, excel=query_data["excel"])  # no cell read as a formula
        writer.writerow(["row", "field", "reason", "skipped", "warning"])
        for rows in uploads.every_rejection(job):
            for r in rows:
                writer.writerow(
                    [
                        r["row"],
                        r["field"],
                        r["reason"],
                        "yes" if r.get("skipped") else "no",
                        "yes" if r.get("warning") else "no",
                    ]
                )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="import-{job.id}-report.csv"'},
    )
