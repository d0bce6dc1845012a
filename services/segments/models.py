"""Documents only the segments service reads and writes: import jobs (with
their uploaded file, in chunks, and their rejected rows) and segment
recompute jobs. Profiles and segments themselves are in shared/models."""

from __future__ import annotations

import mongoengine as me

from shared.store import utcnow

# "mapping": uploaded, waiting for the user to confirm the column mapping (no worker takes it).
JOB_STATUSES = ("uploading", "mapping", "queued", "running", "done", "failed")


class Job(me.Document):
    """Fields every background job has: a status, a lease, and a checkpoint."""

    status = me.StringField(default="queued", choices=JOB_STATUSES)
    # The worker holding the job and until when; an expired lease may be taken over.
    owner = me.StringField()
    lease_until = me.DateTimeField()
    attempts = me.IntField(default=0)
    error = me.StringField()
    created_at = me.DateTimeField(default=utcnow)
    started_at = me.DateTimeField()
    finished_at = me.DateTimeField()

    meta = {"abstract": True}


class ImportJob(Job):
    filename = me.StringField(max_length=300)
    format = me.StringField(required=True, choices=("csv", "jsonl"))
    default_country = me.StringField(default="ES", max_length=2)
    size = me.IntField(default=0)  # bytes uploaded
    chunks = me.IntField(default=0)
    # Progress; ``rows`` is also the checkpoint: a resumed job skips that many rows.
    rows = me.IntField(default=0)
    line = me.IntField(default=0)  # last line of the file done (rejections past it are redone)
    bytes_read = me.IntField(default=0)
    created = me.IntField(default=0)
    updated = me.IntField(default=0)
    unchanged = me.IntField(default=0)
    rejected = me.IntField(default=0)
    skipped = me.IntField(default=0)  # suppressed or erased people, never re-created
    consents = me.IntField(default=0)  # consent statements announced to the mailer (consent.imported)
    language = me.StringField(default="en", choices=("es", "en"))  # of the reasons in the report
    guessed = me.IntField(default=0)  # time zones guessed from a country with several (warnings)
    # How the file is read (detected at upload; see import_format) and its columns -> profile fields.
    encoding = me.StringField(default="utf-8-sig")
    delimiter = me.StringField(default=",")
    header = me.ListField(me.StringField())
    sample = me.ListField(me.ListField(me.StringField()))
    mapping = me.DictField()  # header name -> field ("" ignores the column); empty: the header as is

    meta = {"collection": "segments_import_jobs", "indexes": [("status", "created_at")]}


class ImportChunk(me.Document):
    """One piece of an uploaded file; ``_id`` is ``<job id>:<n>`` (n from 0)."""

    id = me.StringField(primary_key=True)
    data = me.BinaryField(required=True)

    meta = {"collection": "segments_import_chunks"}


class ImportRejection(me.Document):
    """One rejected (or skipped) row of an import, for the report."""

    job_id = me.ObjectIdField(required=True)
    row = me.IntField(required=True)  # line number in the file (the CSV header is line 1)
    field = me.StringField(required=True)
    reason = me.StringField(required=True)
    skipped = me.BooleanField(default=False)  # a suppressed person: skipped on purpose
    warning = me.BooleanField(default=False)  # imported, but something was guessed (e.g. the time zone)

    meta = {"collection": "segments_import_rejections", "indexes": [("job_id", "row")]}


class ImportMapping(me.Document):
    """A column mapping a user confirmed, proposed again for a file with the same header."""

    id = me.StringField(primary_key=True)  # import_format.signature(header)
    mapping = me.DictField()
    updated_at = me.DateTimeField(default=utcnow)

    meta = {"collection": "segments_import_mappings"}


class RecomputeJob(Job):
    """A full recompute of one dynamic segment's membership."""

    segment_id = me.ObjectIdField(required=True)
    reason = me.StringField(default="api")  # api, created, rule_changed, periodic
    # Unique for periodic runs ("<segment>:<slot>") so replicas never queue one twice.
    key = me.StringField()
    evaluated = me.IntField(default=0)
    entered = me.IntField(default=0)
    left = me.IntField(default=0)
    members = me.IntField(default=0)

    meta = {
        "collection": "segments_recompute_jobs",
        "indexes": [
            ("status", "created_at"),
            {"fields": ["key"], "unique": True, "sparse": True},
            "segment_id",
        ],
    }


SERVICE_DOCUMENTS = (ImportJob, ImportChunk, ImportRejection, ImportMapping, RecomputeJob)
