"""Imports of CSV and JSON Lines files as jobs: upload (stored in chunks in
the store, never whole in memory), progress, and the report of rejected rows."""

from __future__ import annotations

import csv
import io

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Float, Integer, List, Nested, String
from apiflask.validators import Length, OneOf
from flask import Response, request, stream_with_context

from shared.http.auth import roles
from shared.http.errors import ApiError, field_error, not_found

from services.segments.api.common import PageIn, cursor_id, jsonable, object_id, page, settings
from services.segments.importer import FileError, store_upload
from services.segments.models import ImportChunk, ImportJob, ImportRejection

bp = APIBlueprint("imports", __name__, tag="imports")

FORMATS = {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl"}


class ImportQuery(Schema):
    format = String(load_default=None, validate=OneOf(("csv", "jsonl")),
                    metadata={"description": "csv or jsonl; default from the file name"})
    default_country = String(load_default=None, validate=Length(equal=2),
                             metadata={"description": "for phone numbers without +prefix; default ES"})
    filename = String(load_default=None, validate=Length(max=300))
    lang = String(load_default="en", validate=OneOf(("es", "en")),
                  metadata={"description": "language of the reasons in the report of rejected rows"})


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
    language = String()
    error = String(allow_none=True)
    created_at = String()
    started_at = String(allow_none=True)
    finished_at = String(allow_none=True)
    report = String(metadata={"description": "URL of the CSV report of rejected rows"})


class ImportPage(Schema):
    items = List(Nested(ImportOut))
    total = Integer()
    next = String(allow_none=True)


class RejectionOut(Schema):
    row = Integer()
    field = String()
    reason = String()
    skipped = Boolean()


class RejectionPage(Schema):
    items = List(Nested(RejectionOut))
    total = Integer()
    next = String(allow_none=True)


def _out(job: ImportJob) -> dict:
    progress = 1.0 if job.status == "done" else (min(job.bytes_read / job.size, 1.0) if job.size else 0.0)
    return {"id": str(job.id), "status": job.status, "filename": job.filename, "format": job.format,
            "size": job.size, "progress": round(progress, 4), "rows": job.rows, "created": job.created,
            "updated": job.updated, "unchanged": job.unchanged, "rejected": job.rejected, "skipped": job.skipped,
            "consents": job.consents, "language": job.language,
            "error": job.error, "created_at": jsonable(job.created_at), "started_at": jsonable(job.started_at),
            "finished_at": jsonable(job.finished_at), "report": f"/imports/{job.id}/report.csv"}


def _load(job_id: str) -> ImportJob:
    job = ImportJob.objects(id=object_id(job_id, "import")).first()
    if job is None:
        raise not_found("import", job_id)
    return job


@bp.post("/imports")
@bp.input(ImportQuery, location="query")
@bp.output(ImportOut, status_code=202)
@bp.doc(description="Send the file as multipart form field `file`, or as the raw request body "
                    "(text/csv or application/x-ndjson). Columns / keys: external_id, email, phone, "
                    "first_name, last_name, locale, time_zone, country, city, stage, tags (separated by ; "
                    "or |), lat, lng, attributes.<name>, social.<network>, consent.<channel>.<topic> "
                    "(granted, pending or revoked) with consent.source, consent.date and a proof "
                    "(consent.wording, consent.ip or consent.form): the mailer records them. The worker processes it; follow "
                    "the job at /imports/<id>.",
        responses={413: "file too large", 422: "no file or unknown format"})
@roles("marketer")
def create_import(query_data):
    """Upload a CSV or JSON Lines file of customers; it is imported by a job."""
    upload = request.files.get("file") if request.mimetype == "multipart/form-data" else None
    filename = query_data.get("filename") or (upload.filename if upload else None)
    fmt = query_data.get("format")
    if fmt is None and filename and "." in filename:
        fmt = FORMATS.get(filename.rsplit(".", 1)[1].lower())
    if fmt is None and "csv" in (request.mimetype or ""):
        fmt = "csv"
    if fmt is None and ("ndjson" in (request.mimetype or "") or "jsonl" in (request.mimetype or "")):
        fmt = "jsonl"
    if fmt is None:
        raise field_error("format", "say csv or jsonl (or send a file named .csv or .jsonl)", location="query")
    country = (query_data.get("default_country") or settings().default_country).upper()
    # "uploading" is not runnable: no worker starts on a half-stored file.
    job = ImportJob(filename=filename, format=fmt, default_country=country, status="uploading",
                    language=query_data["lang"]).save()
    stream = upload.stream if upload is not None else request.stream
    try:
        size = store_upload(job, stream, settings().import_chunk_bytes, settings().import_max_bytes)
    except FileError as exc:
        _discard(job)
        raise ApiError(413, str(exc)) from None
    except BaseException:
        _discard(job)  # the client went away mid-upload, or the store failed: no job left "uploading"
        raise
    if size == 0:
        _discard(job)
        raise field_error("file", "the file is empty", location="files" if upload else "body")
    ImportJob.objects(id=job.id).update_one(set__status="queued")
    job.reload()
    return _out(job)


def _discard(job: ImportJob) -> None:
    """Forget an upload that did not complete: the job and whatever chunks it stored."""
    ImportChunk._get_collection().delete_many({"_id": {"$regex": f"^{job.id}:"}})
    ImportJob.objects(id=job.id).delete()


@bp.get("/imports")
@bp.input(PageIn, location="query")
@bp.output(ImportPage)
@roles("marketer", "analyst")
def list_imports(query_data):
    """Import jobs, newest first (the one just uploaded heads the list)."""
    rows, total, following = page(ImportJob._get_collection(), {}, query_data["limit"],
                                  cursor_id(query_data.get("cursor")), {"_id": 1}, newest_first=True)
    jobs = {j.id: j for j in ImportJob.objects(id__in=[r["_id"] for r in rows])}
    return {"items": [_out(jobs[r["_id"]]) for r in rows if r["_id"] in jobs], "total": total, "next": following}


@bp.get("/imports/<job_id>")
@bp.output(ImportOut)
@roles("marketer", "analyst")
def get_import(job_id):
    """An import's status and progress."""
    return _out(_load(job_id))


@bp.get("/imports/<job_id>/rejections")
@bp.input(PageIn, location="query")
@bp.output(RejectionPage)
@roles("marketer", "analyst")
def list_rejections(job_id, query_data):
    """Rejected and skipped rows: line number, field, reason."""
    job = _load(job_id)
    rows, total, following = page(ImportRejection._get_collection(), {"job_id": job.id}, query_data["limit"],
                                  cursor_id(query_data.get("cursor")))
    return {"items": [{"row": r["row"], "field": r["field"], "reason": r["reason"],
                       "skipped": r.get("skipped", False)} for r in rows], "total": total, "next": following}


@bp.get("/imports/<job_id>/report.csv")
@bp.doc(responses={200: {"description": "every rejected or skipped row", "content": {"text/csv": {}}}})
@roles("marketer", "analyst")
def import_report(job_id):
    """The report of every rejected or skipped row, as CSV (row, field, reason, skipped)."""
    job = _load(job_id)
    collection = ImportRejection._get_collection()

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["row", "field", "reason", "skipped"])
        after = None
        while True:
            query = {"job_id": job.id} if after is None else {"$and": [{"job_id": job.id}, {"_id": {"$gt": after}}]}
            rows = list(collection.find(query).sort("_id", 1).limit(1000))
            if not rows:
                break
            after = rows[-1]["_id"]
            for r in sorted(rows, key=lambda r: r["row"]):
                writer.writerow([r["row"], r["field"], r["reason"], "yes" if r.get("skipped") else "no"])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="import-{job.id}-report.csv"'})
