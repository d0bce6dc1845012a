"""Customer imports: the upload is stored in chunks in the store (so any api
replica can take it and any worker replica can process it), then a worker
streams it row by row, in batches:

* each batch looks its people up with one indexed ``$in`` query per key
  (external id, email, phone), merges in memory (external id first, then
  email, then phone), and writes with one ``insert_many`` and one
  ``bulk_write``: no per-row round trip;
* a row that changes nothing writes nothing, so re-running a file changes
  nothing (not even ``updated_at``);
* every rejected row is reported with its line number, field and reason;
  suppressed or erased contacts are skipped with a reason, never re-created;
* the job's progress is also its checkpoint: a job taken over after a crash
  skips the rows already done (re-doing one batch is harmless: merging is
  idempotent);
* at the end, one full recompute is queued per dynamic segment whose fields
  the import touched (cheaper than checking every batch against every
  segment); the recompute announces segment.entered/left.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from dataclasses import dataclass, field

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from shared.messaging.contracts import ConsentImported, CustomerCreated, CustomerUpdated
from shared.models import Customer, SuppressedContact, contact_hash
from shared.store import utcnow

from services.segments import events, import_consent, import_messages, profiles
from services.segments.jobs import LeaseLost, Stopping, finish, renew
from services.segments.models import ImportChunk, ImportJob, ImportRejection

log = logging.getLogger(__name__)

COLUMNS = set(profiles.SCALARS) | {"tags", "lat", "lng"}
PREFIXED = re.compile(r"^(attributes|social)\.([A-Za-z0-9_\-]{1,64})$")
JSON_KEYS = set(profiles.WRITABLE) | {"lat", "lng"}
MAX_LINE = 64 * 1024
csv.field_size_limit(MAX_LINE)


class FileError(Exception):
    """The file as a whole cannot be read (e.g. an unknown CSV column)."""


# --- storing and reading the upload -----------------------------------------

def store_upload(job: ImportJob, stream, chunk_bytes: int, max_bytes: int) -> int:
    """Copy ``stream`` into chunks of ``chunk_bytes``; returns the size."""
    size = n = 0
    collection = ImportChunk._get_collection()
    while True:
        data = stream.read(chunk_bytes)
        if not data:
            break
        size += len(data)
        if size > max_bytes:
            collection.delete_many({"_id": {"$regex": f"^{job.id}:"}})
            raise FileError(f"the file is larger than {max_bytes} bytes")
        collection.insert_one({"_id": f"{job.id}:{n:06d}", "data": data})
        n += 1
    ImportJob.objects(id=job.id).update_one(set__size=size, set__chunks=n)
    return size


class ChunkReader(io.RawIOBase):
    """The stored upload as a read-only byte stream, one chunk in memory at a time."""

    def __init__(self, job: ImportJob):
        self.job_id, self.chunks = job.id, job.chunks
        self.n = 0
        self.buffer = b""
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self.buffer and self.n < self.chunks:
            doc = ImportChunk._get_collection().find_one({"_id": f"{self.job_id}:{self.n:06d}"})
            if doc is None:
                raise FileError(f"chunk {self.n} of the upload is missing")
            self.buffer = bytes(doc["data"])
            self.n += 1
        size = min(len(target), len(self.buffer))
        target[:size] = self.buffer[:size]
        self.buffer = self.buffer[size:]
        self.position += size
        return size


# --- rows -------------------------------------------------------------------

@dataclass
class Row:
    line: int
    data: dict | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)  # (field, reason)
    consent: dict = field(default_factory=dict)  # consent.* columns (see import_consent)


def _split_consent(data: dict) -> tuple[dict, dict]:
    """(profile columns, consent columns) of one row."""
    consent = {k: data.pop(k) for k in [k for k in data if import_consent.is_column(k)]}
    return data, consent


def _shape(data: dict) -> dict:
    """File columns -> profile fields (lat/lng -> location, attributes.x, social.x)."""
    out: dict = {}
    attributes, social = {}, {}
    for key, value in data.items():
        match = PREFIXED.match(key)
        if match:
            (attributes if match.group(1) == "attributes" else social)[match.group(2)] = value
        elif key not in ("lat", "lng"):
            out[key] = value
    if attributes:
        out["attributes"] = {k: v for k, v in attributes.items() if v not in (None, "")} or None
    if social:
        out["social"] = {k: v for k, v in social.items() if v not in (None, "")} or None
    lat, lng = data.get("lat"), data.get("lng")
    if lat not in (None, "") or lng not in (None, ""):
        out["location"] = [lng, lat]
    return out


def csv_rows(text) -> "iter[Row]":
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise FileError(f"the header cannot be read: {exc}") from None
    header = [h.strip().lower() if not PREFIXED.match(h.strip()) else h.strip() for h in header]
    unknown = [h for h in header if h not in COLUMNS and not PREFIXED.match(h) and not import_consent.is_column(h)]
    if unknown:
        raise FileError(f"unknown column(s) {', '.join(repr(h) for h in unknown)}; columns are "
                        f"{', '.join(sorted(COLUMNS))}, attributes.<name> and social.<network>")
    if len(set(header)) != len(header):
        raise FileError("a column appears twice in the header")
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Row(line, errors=[("_row", f"cannot be read as CSV: {exc}")])
            continue
        if not record or not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            yield Row(line, errors=[("_row", f"has {len(record)} columns; the header has {len(header)}")])
            continue
        if any("\ufffd" in cell for cell in record):
            yield Row(line, errors=[("_row", "is not valid UTF-8 text")])
            continue
        data, consent = _split_consent({h: (cell if cell.strip() else None) for h, cell in zip(header, record)})
        yield Row(line, _shape(data), consent=consent)


def jsonl_rows(text) -> "iter[Row]":
    for line, raw in enumerate(text, 1):
        if not raw.strip():
            continue
        if "\ufffd" in raw:
            yield Row(line, errors=[("_row", "is not valid UTF-8 text")])
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield Row(line, errors=[("_row", f"is not valid JSON: {exc.msg} at column {exc.colno}")])
            continue
        if not isinstance(data, dict):
            yield Row(line, errors=[("_row", "must be a JSON object")])
            continue
        data, consent = _split_consent(data)
        if any(value is not None and not isinstance(value, str) for value in consent.values()):
            yield Row(line, errors=[("consent", "consent.* values must be strings")])
            continue
        unknown = [k for k in data if k not in JSON_KEYS and not PREFIXED.match(k)]
        if unknown:
            yield Row(line, errors=[(k, "is not a profile field") for k in unknown])
            continue
        if isinstance(data.get("location"), dict):
            loc = data.pop("location")
            data["lat"], data["lng"] = loc.get("lat"), loc.get("lng")
        yield Row(line, _shape(data), consent={k: (v if v and v.strip() else None) for k, v in consent.items()})


# --- merging a batch --------------------------------------------------------

@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0
    consents: int = 0  # consent statements announced to the mailer
    rejections: list = field(default_factory=list)
    events: list = field(default_factory=list)
    touched: set = field(default_factory=set)  # profile fields changed ("*": people created)


def _apply(state: dict, update: dict) -> None:
    state.update(update.get("$set", {}))


class Batch:
    """Merge one batch of rows into the store with a handful of round trips."""

    def __init__(self, settings, job: ImportJob, rows: list[Row]):
        self.settings, self.job, self.rows = settings, job, rows
        self.outcome = Outcome()
        self.collection = Customer._get_collection()
        self.statements: dict[int, list[dict]] = {}  # line -> consent statements of a valid row
        self.person_of: dict[int, object] = {}  # line -> customer id (rows merged or created)

    def reject(self, row: Row, errors, skipped: bool = False) -> None:
        for name, reason in errors:
            self.outcome.rejections.append({"job_id": self.job.id, "row": row.line, "field": name,
                                            "reason": reason, "skipped": skipped})
        if skipped:
            self.outcome.skipped += 1
        else:
            self.outcome.rejected += 1

    def run(self) -> Outcome:
        ready: list[tuple[Row, dict]] = []
        for row in self.rows:
            if row.errors:
                self.reject(row, row.errors)
                continue
            values, errors = profiles.normalise(row.data, self.job.default_country)
            statements, consent_errors = import_consent.parse(row.consent)
            language = getattr(self.job, "language", None) or "en"
            errors.update({name: import_messages.text(code, language, **params)
                           for name, code, params in consent_errors})
            if errors:
                self.reject(row, sorted(errors.items()))
                continue
            if statements:
                self.statements[row.line] = statements
            if not any(values.get(k) for k in ("external_id", "email", "phone")):
                self.reject(row, [("_row", "needs an external_id, email or phone to be merged")])
                continue
            ready.append((row, values))
        ready = self._drop_suppressed(ready)
        self._merge(ready)
        return self.outcome

    def _drop_suppressed(self, ready):
        hashes = {}
        for _, values in ready:
            for kind in ("email", "phone"):
                if values.get(kind):
                    hashes[contact_hash(kind, values[kind])] = kind
        if not hashes:
            return ready
        found = {d["hash"]: d["reason"] for d in SuppressedContact._get_collection().find(
            {"hash": {"$in": list(hashes)}}, {"hash": 1, "reason": 1})}
        kept = []
        for row, values in ready:
            hit = next(((kind, found[contact_hash(kind, values[kind])]) for kind in ("email", "phone")
                        if values.get(kind) and contact_hash(kind, values[kind]) in found), None)
            if hit:
                self.reject(row, [(hit[0], f"suppressed contact ({hit[1]}): skipped, never re-created")],
                            skipped=True)
            else:
                kept.append((row, values))
        return kept

    def _merge(self, ready) -> None:
        exts = [v["external_id"] for _, v in ready if v.get("external_id")]
        emails = [v["email"] for _, v in ready if v.get("email")]
        phones = [v["phone"] for _, v in ready if v.get("phone")]
        # One indexed $in per key rather than one $or: the stand-in scans for the $or.
        found: dict = {}
        for key, vals in (("external_id", exts), ("email", emails), ("phone", phones)):
            if vals:
                for doc in self.collection.find({key: {"$in": vals}}):
                    found.setdefault(doc["_id"], doc)
        docs = [found[i] for i in sorted(found)]
        index = {"external_id": {}, "email": {}, "phone": {}}
        states: dict = {}

        def remember(state):
            for key in index:
                if state.get(key):
                    index[key].setdefault(state[key], state)

        for doc in docs:
            states[doc["_id"]] = doc
            remember(doc)
        new_docs: list[tuple[dict, list[int]]] = []
        new_ids: set = set()
        updates: dict = {}
        changed_fields: set[str] = set()
        rows_of: dict = {}
        for row, values in ready:
            match = None
            for key in ("external_id", "email", "phone"):
                if values.get(key) and values[key] in index[key]:
                    match = index[key][values[key]]
                    break
            if match is not None:
                conflict = self._conflict(match, values, index)
                if conflict:
                    self.reject(row, [conflict])
                    continue
                if match.get("erased"):
                    self.reject(row, [("_row", "matches an erased customer: skipped")], skipped=True)
                    continue
                self.person_of[row.line] = match["_id"]
                update = profiles.merge_changes(match, values)
                if not update:
                    self.outcome.unchanged += 1
                    continue
                _apply(match, update)
                remember(match)
                if match["_id"] in new_ids:  # a later row about a person this batch creates
                    rows_of[match["_id"]].append(row.line)
                    self.outcome.updated += 1
                    continue
                updates.setdefault(match["_id"], {}).update(update["$set"])
                changed_fields.update(profiles.changed_fields(update))
                rows_of.setdefault(match["_id"], []).append(row.line)
                self.outcome.updated += 1
            else:
                doc = profiles.new_document(values)
                doc["_id"] = ObjectId()
                new_ids.add(doc["_id"])
                self.person_of[row.line] = doc["_id"]
                rows_of[doc["_id"]] = [row.line]
                new_docs.append((doc, [row.line]))
                remember(doc)
                self.outcome.created += 1
        by_id = {doc["_id"]: doc for doc, _ in new_docs}
        created = self._insert(new_docs, rows_of)
        updated = self._update(updates, rows_of)
        if created:
            self.outcome.touched.add("*")
        self.outcome.touched.update(changed_fields)
        for cid in created:
            self.outcome.events.append(CustomerCreated(customer_id=str(cid), source="import",
                                                       external_id=by_id[cid].get("external_id")))
        for cid in updated:
            self.outcome.events.append(CustomerUpdated(customer_id=str(cid), source="import",
                                                       changed=sorted(changed_fields)))
        # Consents are the mailer's: announce each statement of a row whose person is stored.
        lost = ({doc["_id"] for doc, _ in new_docs} - set(created)) | (set(updates) - set(updated))
        for line, statements in sorted(self.statements.items()):
            cid = self.person_of.get(line)
            if cid is None or cid in lost:
                continue
            for statement in statements:
                self.outcome.events.append(import_consent.event(statement, cid, self.job.id, line))
                self.outcome.consents += 1

    @staticmethod
    def _conflict(match: dict, values: dict, index: dict):
        """A row that would join two different people, or relabel one: (field, reason)."""
        for key in ("external_id", "email"):
            other = index[key].get(values.get(key)) if values.get(key) else None
            if other is not None and other["_id"] != match["_id"]:
                return key, f"belongs to another customer ({other['_id']}) than the one this row matched"
        if values.get("external_id") and match.get("external_id") and values["external_id"] != match["external_id"]:
            return "external_id", (f"the customer matched by email or phone has external_id "
                                   f"{match['external_id']!r}")
        return None

    def _insert(self, new_docs, rows_of) -> list:
        if not new_docs:
            return []
        docs = [doc for doc, _ in new_docs]
        failed = set()
        try:
            self.collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                if error.get("code") != 11000:
                    raise
                failed.add(error["index"])
        for i in sorted(failed):
            doc = docs[i]
            self.outcome.created -= 1
            self.outcome.rejected += 1
            for line in rows_of[doc["_id"]]:
                self.outcome.rejections.append({
                    "job_id": self.job.id, "row": line, "field": "_row",
                    "reason": "another writer created this person meanwhile; run the import again to merge",
                    "skipped": False})
        return [doc["_id"] for i, doc in enumerate(docs) if i not in failed]

    def _update(self, updates: dict, rows_of) -> list:
        if not updates:
            return []
        ids = list(updates)
        now = utcnow()
        operations = [UpdateOne({"_id": cid}, {"$set": {**updates[cid], "updated_at": now}}) for cid in ids]
        failed = set()
        try:
            self.collection.bulk_write(operations, ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                if error.get("code") != 11000:
                    raise
                failed.add(error["index"])
        for i in sorted(failed):
            self.outcome.updated -= len(rows_of[ids[i]])
            self.outcome.rejected += len(rows_of[ids[i]])
            for line in rows_of[ids[i]]:
                self.outcome.rejections.append({
                    "job_id": self.job.id, "row": line, "field": "email",
                    "reason": "another customer took this email meanwhile", "skipped": False})
        return [cid for i, cid in enumerate(ids) if i not in failed]


# --- the job ----------------------------------------------------------------

class EventSender:
    """Publishes a job's customer.created/updated from a thread, so the broker's
    confirms overlap with the next batch's store work instead of adding to it.

    Each batch's events go out together with one wait for the broker's
    confirms (``events.publish_many``), not one round trip per event; what the
    broker does not confirm is kept in the outbox for the relay."""

    def __init__(self, settings):
        import queue
        import threading

        self.settings = settings
        self.queue: "queue.Queue" = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="import-events", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            batch = self.queue.get()
            if batch is None:
                return
            if self.error is not None:
                continue  # drain: the job fails on the error below
            try:
                events.publish_many(self.settings, [(event, None, None) for event in batch])
            except BaseException as exc:  # noqa: BLE001 - raised on the job's thread (send / close)
                self.error = exc

    def _raise(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"announcing the import's rows failed: {self.error}") from self.error

    def send(self, batch: list) -> None:
        """Queue a batch's events; raises if announcing an earlier batch failed (the job is retried)."""
        self._raise()
        if batch:
            self.queue.put(batch)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self._raise()


def recompute_touched(job: ImportJob, touched: set[str]) -> int:
    """One full recompute per dynamic segment the import can have changed.

    Cheaper than evaluating each batch against every segment, and the
    recompute announces segment.entered/left like any other change.
    """
    from services.segments.jobs import queue_recompute
    from services.segments.membership import active_dynamic, dependencies
    from services.segments.rules import affected

    queued = 0
    if not touched:
        return 0
    for segment in active_dynamic():
        if affected(dependencies(segment)[0], touched):
            if queue_recompute(segment.id, "import", key=f"{segment.id}:import:{job.id}:{job.attempts}"):
                queued += 1
    return queued


COUNTERS = ("created", "updated", "unchanged", "rejected", "skipped", "consents")


def run_import(settings, job: ImportJob, owner: str, stopping=None) -> None:
    """Process (or resume) one import job to the end."""
    done_rows, done_line = job.rows, job.line
    # A batch interrupted before its checkpoint may have reported rows already.
    ImportRejection._get_collection().delete_many({"job_id": job.id, "row": {"$gt": done_line}})
    if not job.started_at:
        ImportJob.objects(id=job.id).update_one(set__started_at=utcnow())
    reader = ChunkReader(job)
    text = io.TextIOWrapper(io.BufferedReader(reader, 256 * 1024), encoding="utf-8-sig", errors="replace",
                            newline="" if job.format == "csv" else None)
    counts = {name: getattr(job, name) for name in COUNTERS}
    rows_seen = 0
    batch: list[Row] = []
    # A resumed job cannot know what the first attempt changed: re-check every segment.
    touched: set[str] = {"*"} if done_rows else set()
    # customer.created/updated may be turned off; consent statements always go (the mailer records them).
    sender = EventSender(settings)

    def flush():
        nonlocal batch
        if not batch:
            return
        outcome = Batch(settings, job, batch).run()
        touched.update(outcome.touched)
        sender.send(outcome.events if settings.import_events else
                    [e for e in outcome.events if isinstance(e, ConsentImported)])
        if outcome.rejections:
            ImportRejection._get_collection().insert_many(outcome.rejections, ordered=False)
        for name in COUNTERS:
            counts[name] += getattr(outcome, name)
        if not renew(ImportJob, job.id, owner, settings.job_lease_seconds, rows=rows_seen, line=batch[-1].line,
                     bytes_read=reader.position, **counts):
            raise LeaseLost()
        batch = []
        if stopping is not None and stopping.is_set():
            raise Stopping()

    try:
        rows = csv_rows(text) if job.format == "csv" else jsonl_rows(text)
        for row in rows:
            rows_seen += 1
            if rows_seen <= done_rows:
                continue
            batch.append(row)
            if len(batch) >= settings.import_batch_size:
                flush()
        flush()
    except FileError as exc:
        finish(ImportJob, job.id, owner, "failed", error=str(exc), **counts)
        return
    finally:
        sender.close()
        recompute_touched(job, touched)
    finish(ImportJob, job.id, owner, "done", bytes_read=job.size, rows=rows_seen, **counts)
    # The upload is no longer needed once every row is in (the report stays).
    ImportChunk._get_collection().delete_many({"_id": {"$regex": f"^{job.id}:"}})
