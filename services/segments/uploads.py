"""Imports as the API handles them: the upload (its format, its chunks, a first look
at it and a proposed column mapping), the mapping a user confirms, and reading jobs
and their rejected rows back.

A job is created ``uploading`` (no worker starts on a half-stored file), then is
``queued``, or ``mapping`` when the user asked to review the columns first.
"""

from __future__ import annotations

from services.segments import import_consent, import_format
from services.segments.errors import InvalidFields
from services.segments.import_rows import COLUMNS, PREFIXED
from services.segments.import_upload import store_upload
from services.segments.models import ImportJob
from services.segments.store import imports as store
from shared.errors import Conflict, Invalid, NotFound
from shared.http.auth import mask_value
from shared.personal import is_personal

EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl"}
FIELDS = (
    sorted(COLUMNS)
    + ["consent.source", "consent.date", "consent.wording", "consent.ip", "consent.form"]
    + [
        f"consent.{channel}.{topic}"
        for channel in ("email", "sms")
        for topic in ("newsletter", "promotions", "service")
    ]
)
KEYS = {"email", "phone", "external_id"}


def file_format(asked: str | None, filename: str | None, mimetype: str) -> str:
    """csv or jsonl: as asked, else from the file name, else from the content type."""
    fmt = asked
    if fmt is None and filename and "." in filename:
        fmt = EXTENSIONS.get(filename.rsplit(".", 1)[1].lower())
    if fmt is None and "csv" in mimetype:
        fmt = "csv"
    if fmt is None and ("ndjson" in mimetype or "jsonl" in mimetype):
        fmt = "jsonl"
    if fmt is None:
        raise Invalid("format", "say csv or jsonl (or send a file named .csv or .jsonl)", location="query")
    return fmt


def _proposal(header: list[str], review: bool) -> dict:
    """The saved mapping for this header, else the names' meaning (unknown: None to review,
    else the name itself, which fails the job naming it). A field is proposed for the first
    column that means it only ("Teléfono;Teléfono móvil": the second is left to choose, where
    proposing both gave a mapping the start then refused)."""
    saved = store.saved_mapping(import_format.signature(header))
    if saved is not None and set(saved) == set(header):
        return saved
    proposal, taken = {}, set()
    for name in header:
        field = import_format.propose(name)
        if review and field in taken:  # (without review the job fails naming the field twice)
            field = None
        taken.add(field)
        proposal[name] = field or (None if review else name)
    return proposal


def upload(
    settings, stream, *, filename, fmt: str, country: str, language: str, review: bool, empty_location: str
) -> ImportJob:
    """Store the file in chunks and queue its job (or leave it for review: CSV only).

    Nothing is left of an upload that did not complete (too large, empty, cut off)."""
    job = store.new_job(
        filename=filename, format=fmt, default_country=country, status="uploading", language=language
    )
    review = review and fmt == "csv"
    try:
        size = store_upload(job, stream, settings.import_chunk_bytes, settings.import_max_bytes)
    except BaseException:
        store.discard_job(job.id)  # too large, the client went away mid-upload, or the store failed
        raise
    if size == 0:
        store.discard_job(job.id)
        raise Invalid("file", "the file is empty", location=empty_location)
    seen = import_format.preview(store.chunk(job.id, 0)[: 64 * 1024], fmt)
    fields = {
        "encoding": seen["encoding"],
        "delimiter": seen["delimiter"] or ",",
        "header": seen["header"] or [],
        "sample": seen["sample"],
        "status": "mapping" if review else "queued",
    }
    if fmt == "csv" and seen["header"] and len(set(seen["header"])) == len(seen["header"]):
        fields["mapping"] = _proposal(seen["header"], review)
    store.set_job_fields(job.id, fields)
    return store.reloaded(job)


def _valid_target(name: str) -> bool:
    return name in COLUMNS or bool(PREFIXED.match(name)) or import_consent.is_column(name)


def mapping_errors(header: list[str], mapping: dict) -> dict[str, list[str]]:
    """What is wrong with a mapping of the file's columns (empty: nothing)."""
    errors = {}
    for column in mapping:
        if column not in header:
            errors[f"mapping.{column}"] = ["is not a column of the file"]
    for column in header:
        target = mapping.get(column)
        if column not in mapping:
            errors[f"mapping.{column}"] = ["say which field this column is, or null to ignore it"]
        elif target is not None and not _valid_target(target):
            errors[f"mapping.{column}"] = [f"{target!r} is not a profile field"]
    targets = [t for t in mapping.values() if t]
    for column, target in mapping.items():
        if target and targets.count(target) > 1:
            errors[f"mapping.{column}"] = [f"another column is also mapped to {target}"]
    if not errors and not KEYS & set(targets):
        errors["mapping"] = ["map a column to email, phone or external_id: rows are merged by them"]
    return errors


def start(job: ImportJob, mapping: dict, remember: bool) -> ImportJob:
    """Confirm the column mapping of a job waiting for it; the worker then runs it."""
    if job.status != "mapping":
        raise Conflict(f"the import is {job.status}, not waiting for its mapping")
    mapping = {key: (value or None) for key, value in mapping.items()}
    errors = mapping_errors(job.header, mapping)
    if errors:
        raise InvalidFields(
            errors, message="Invalid mapping: " + "; ".join(f"{k}: {v[0]}" for k, v in sorted(errors.items()))
        )
    stored = {column: (target or "") for column, target in mapping.items()}
    if not store.queue_mapped(job.id, stored):
        raise Conflict("the import was started meanwhile")
    if remember:
        store.remember_mapping(import_format.signature(job.header), stored)
    return store.reloaded(job)


def load(job_id, raw_id: str) -> ImportJob:
    job = store.find_job(job_id)
    if job is None:
        raise NotFound("import", raw_id)
    return job


def page(limit: int, after):
    """(import jobs newest first, total, next cursor)."""
    return store.page_jobs(limit, after)


def rejections(job: ImportJob, limit: int, after):
    """(rejected, skipped or guessed rows, total, next cursor), in the order they were written."""
    return store.page_rejections(job.id, limit, after)


def every_rejection(job: ImportJob, batch: int = 1000):
    """Every rejection of the job, a batch at a time (each sorted by line)."""
    after = None
    while True:
        rows = store.rejections_after(job.id, after, batch)
        if not rows:
            return
        after = rows[-1]["_id"]
        yield sorted(rows, key=lambda r: r["row"])


def sample_as_seen(job: ImportJob, analyst: bool) -> list[list[str]]:
    """The file's first rows, for an analyst masked as every profile is: a cell by the field
    its column holds (the mapping, else the field its name means), and an address anywhere
    else (a notes column) as in free text."""
    rows = job.sample or []
    if not analyst:
        return rows
    mapping = job.mapping or {}
    targets = [mapping.get(name) or import_format.propose(name) or "" for name in job.header or []]

    def cell(i: int, value: str) -> str:
        target = targets[i] if i < len(targets) else ""
        if is_personal(target):
            return mask_value("handle" if target.startswith("social.") else target.split(".")[-1], value)
        return mask_value("reason", value)  # free text: an e-mail address in it is masked

    return [[cell(i, value) for i, value in enumerate(row)] for row in rows]
