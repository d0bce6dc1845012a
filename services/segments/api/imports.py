"""Imports of CSV and JSON Lines files as jobs: upload (stored in chunks in
the store, never whole in memory), progress, and the report of rejected rows."""

from __future__ import annotations

import io

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Dict, Float, Integer, List, Nested, String
from apiflask.validators import Length, OneOf
from flask import Response, request, stream_with_context

from services.segments import import_consent, import_format
from services.segments.api.common import jsonable, settings
from services.segments.importer import COLUMNS, PREFIXED, TooLarge, store_upload
from services.segments.models import ImportChunk, ImportJob, ImportMapping, ImportRejection
from shared import export
from shared.http.auth import roles
from shared.http.errors import ApiError, field_error, not_found
from shared.http.inputs import body_limit
from shared.http.paging import PageQuery, cursor_id, object_id, page
from shared.store import utcnow

bp = APIBlueprint("imports", __name__, tag="imports")

FORMATS = {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl"}


class ImportQuery(Schema):
    format = String(
        load_default=None,
        validate=OneOf(("csv", "jsonl")),
        metadata={"description": "csv or jsonl; default from the file name"},
    )
    default_country = String(
        load_default=None,
        validate=Length(equal=2),
        metadata={"description": "for phone numbers without +prefix; default ES"},
    )
    filename = String(load_default=None, validate=Length(max=300))
    lang = String(
        load_default="en",
        validate=OneOf(("es", "en")),
        metadata={"description": "language of the reasons in the report of rejected rows"},
    )
    review = Boolean(
        load_default=False,
        metadata={
            "description": "CSV only: stop after the upload with the detected encoding, delimiter, the first rows "
            "and a proposed mapping (status `mapping`); POST /imports/<id>/start runs it"
        },
    )


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


class ImportPage(Schema):
    items = List(Nested(ImportOut))
    total = Integer()
    next = String(allow_none=True)


class RejectionOut(Schema):
    row = Integer()
    field = String()
    reason = String()
    skipped = Boolean()
    warning = Boolean(metadata={"description": "imported; something was guessed (e.g. the time zone)"})


class StartIn(Schema):
    mapping = Dict(
        keys=String(),
        values=String(allow_none=True),
        required=True,
        metadata={"description": "every column of the header -> a field, or null/empty to ignore it"},
    )
    remember = Boolean(
        load_default=True, metadata={"description": "propose this mapping for the same header"}
    )


FIELDS = (
    sorted(COLUMNS)
    + ["consent.source", "consent.date", "consent.wording", "consent.ip", "consent.form"]
    + [
        f"consent.{channel}.{topic}"
        for channel in ("email", "sms")
        for topic in ("newsletter", "promotions", "service")
    ]
)


def _valid_target(name: str) -> bool:
    return name in COLUMNS or bool(PREFIXED.match(name)) or import_consent.is_column(name)


def _proposal(header: list[str], review: bool) -> dict:
    """The saved mapping for this header, else the names' meaning (unknown: None to review,
    else the name itself, which fails the job naming it)."""
    saved = ImportMapping.objects(id=import_format.signature(header)).first()
    if saved is not None and set(saved.mapping) == set(header):
        return dict(saved.mapping)
    return {h: import_format.propose(h) or (None if review else h) for h in header}


class RejectionPage(Schema):
    items = List(Nested(RejectionOut))
    total = Integer()
    next = String(allow_none=True)


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
        "sample": job.sample or [],
        "mapping": job.mapping or {},
        "fields": FIELDS,
        "error": job.error,
        "created_at": jsonable(job.created_at),
        "started_at": jsonable(job.started_at),
        "finished_at": jsonable(job.finished_at),
        "report": f"/imports/{job.id}/report.csv",
    }


def _load(job_id: str) -> ImportJob:
    job = ImportJob.objects(id=object_id(job_id, "import")).first()
    if job is None:
        raise not_found("import", job_id)
    return job


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
    fmt = query_data.get("format")
    if fmt is None and filename and "." in filename:
        fmt = FORMATS.get(filename.rsplit(".", 1)[1].lower())
    if fmt is None and "csv" in (request.mimetype or ""):
        fmt = "csv"
    if fmt is None and ("ndjson" in (request.mimetype or "") or "jsonl" in (request.mimetype or "")):
        fmt = "jsonl"
    if fmt is None:
        raise field_error(
            "format", "say csv or jsonl (or send a file named .csv or .jsonl)", location="query"
        )
    country = (query_data.get("default_country") or settings().default_country).upper()
    # "uploading" is not runnable: no worker starts on a half-stored file.
    job = ImportJob(
        filename=filename,
        format=fmt,
        default_country=country,
        status="uploading",
        language=query_data["lang"],
    ).save()
    review = query_data["review"] and fmt == "csv"
    stream = upload.stream if upload is not None else request.stream
    try:
        size = store_upload(job, stream, settings().import_chunk_bytes, settings().import_max_bytes)
    except TooLarge as exc:
        _discard(job)
        raise ApiError(413, str(exc)) from None
    except BaseException:
        _discard(job)  # the client went away mid-upload, or the store failed: no job left "uploading"
        raise
    if size == 0:
        _discard(job)
        raise field_error("file", "the file is empty", location="files" if upload else "body")
    first = ImportChunk._get_collection().find_one({"_id": f"{job.id}:000000"})
    seen = import_format.preview(bytes(first["data"])[: 64 * 1024], fmt)
    fields = {
        "encoding": seen["encoding"],
        "delimiter": seen["delimiter"] or ",",
        "header": seen["header"] or [],
        "sample": seen["sample"],
        "status": "mapping" if review else "queued",
    }
    if fmt == "csv" and seen["header"] and len(set(seen["header"])) == len(seen["header"]):
        fields["mapping"] = _proposal(seen["header"], review)
    ImportJob._get_collection().update_one({"_id": job.id}, {"$set": fields})
    job.reload()
    return _out(job)


@bp.post("/imports/<job_id>/start")
@bp.input(StartIn)
@bp.output(ImportOut, status_code=202)
@bp.doc(responses={409: "the import is not waiting for its mapping"})
@roles("marketer")
def start_import(job_id, json_data):
    """Confirm the column mapping of an import uploaded with review=true; the worker runs it."""
    job = _load(job_id)
    if job.status != "mapping":
        raise ApiError(409, f"the import is {job.status}, not waiting for its mapping", error="conflict")
    mapping = {key: (value or None) for key, value in json_data["mapping"].items()}
    errors = {}
    for column in mapping:
        if column not in job.header:
            errors[f"mapping.{column}"] = ["is not a column of the file"]
    for column in job.header:
        target = mapping.get(column)
        if column not in mapping:
            errors[f"mapping.{column}"] = ["say which field this column is, or null to ignore it"]
        elif target is not None and not _valid_target(target):
            errors[f"mapping.{column}"] = [f"{target!r} is not a profile field"]
    targets = [t for t in mapping.values() if t]
    for column, target in mapping.items():
        if target and targets.count(target) > 1:
            errors[f"mapping.{column}"] = [f"another column is also mapped to {target}"]
    if not errors and not {"email", "phone", "external_id"} & set(targets):
        errors["mapping"] = ["map a column to email, phone or external_id: rows are merged by them"]
    if errors:
        raise ApiError(
            422,
            "Invalid mapping: " + "; ".join(f"{k}: {v[0]}" for k, v in sorted(errors.items())),
            error="validation_error",
            location="json",
            fields=errors,
        )
    stored = {column: (target or "") for column, target in mapping.items()}
    claimed = ImportJob._get_collection().update_one(
        {"_id": job.id, "status": "mapping"}, {"$set": {"mapping": stored, "status": "queued"}}
    )
    if claimed.matched_count != 1:
        raise ApiError(409, "the import was started meanwhile", error="conflict")
    if json_data["remember"]:
        ImportMapping._get_collection().update_one(
            {"_id": import_format.signature(job.header)},
            {"$set": {"mapping": stored, "updated_at": utcnow()}},
            upsert=True,
        )
    job.reload()
    return _out(job)


def _discard(job: ImportJob) -> None:
    """Forget an upload that did not complete: the job and whatever chunks it stored."""
    ImportChunk._get_collection().delete_many({"_id": {"$regex": f"^{job.id}:"}})
    ImportJob.objects(id=job.id).delete()


@bp.get("/imports")
@bp.input(PageQuery, location="query")
@bp.output(ImportPage)
@roles("marketer", "analyst")
def list_imports(query_data):
    """Import jobs, newest first (the one just uploaded heads the list)."""
    rows, total, following = page(
        ImportJob._get_collection(),
        {},
        query_data["limit"],
        cursor_id(query_data),
        {"_id": 1},
        newest_first=True,
    )
    jobs = {j.id: j for j in ImportJob.objects(id__in=[r["_id"] for r in rows])}
    return {
        "items": [_out(jobs[r["_id"]]) for r in rows if r["_id"] in jobs],
        "total": total,
        "next": following,
    }


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
    job = _load(job_id)
    rows, total, following = page(
        ImportRejection._get_collection(),
        {"job_id": job.id},
        query_data["limit"],
        cursor_id(query_data),
    )
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
@bp.doc(responses={200: {"description": "every rejected or skipped row", "content": {"text/csv": {}}}})
@roles("marketer", "analyst")
def import_report(job_id):
    """The report of every rejected or skipped row and every guess, as CSV (row, field, reason, skipped, warning)."""
    job = _load(job_id)
    collection = ImportRejection._get_collection()

    def generate():
        buffer = io.StringIO()
        writer = export.writer(buffer)  # no cell a spreadsheet would read as a formula
        writer.writerow(["row", "field", "reason", "skipped", "warning"])
        after = None
        while True:
            query = (
                {"job_id": job.id}
                if after is None
                else {"$and": [{"job_id": job.id}, {"_id": {"$gt": after}}]}
            )
            rows = list(collection.find(query).sort("_id", 1).limit(1000))
            if not rows:
                break
            after = rows[-1]["_id"]
            for r in sorted(rows, key=lambda r: r["row"]):
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
