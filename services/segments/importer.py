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
import functools
import io
import json
import logging
import re
from dataclasses import dataclass, field

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from services.segments import import_consent, import_messages, profiles
from services.segments.jobqueue import LeaseLost, Stopping, finish, renew
from services.segments.models import ImportChunk, ImportJob, ImportRejection
from shared.http.inputs import MAX_DEPTH, too_deep
from shared.messaging.contracts import ConsentImported, CustomerCreated, CustomerUpdated
from shared.models import Customer, SuppressedContact, contact_hash
from shared.store import utcnow

log = logging.getLogger(__name__)

COLUMNS = set(profiles.SCALARS) | {"tags", "lat", "lng"}
PREFIXED = re.compile(r"^(attributes|social)\.([A-Za-z0-9_\-]{1,64})$")
JSON_KEYS = set(profiles.WRITABLE) | {"lat", "lng"}
MAX_LINE = 64 * 1024
csv.field_size_limit(MAX_LINE)


class FileError(Exception):
    """The file as a whole cannot be read (e.g. an unknown CSV column): a message code
    of import_messages and its values, worded in the job's language when it fails."""

    def __init__(self, code: str, **params):
        super().__init__(import_messages.text(code, "en", **params))
        self.code, self.params = code, params

    def worded(self, language: str) -> str:
        return import_messages.text(self.code, language, **self.params)


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
            raise TooLarge(f"the file is larger than {max_bytes} bytes")
        collection.insert_one({"_id": f"{job.id}:{n:06d}", "data": data})
        n += 1
    ImportJob.objects(id=job.id).update_one(set__size=size, set__chunks=n)
    return size


class TooLarge(Exception):
    """The upload is over the size limit (the API answers 413)."""


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
                raise FileError("file_chunk", n=self.n)
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


def _decimal(value):
    """A coordinate as a spreadsheet in Spanish writes it ("36,72") or as it is."""
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+,\d+\s*", value):
        return value.replace(",", ".")
    return value


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
    lat, lng = (_decimal(data.get(key)) for key in ("lat", "lng"))
    if lat not in (None, "") or lng not in (None, ""):
        out["location"] = [lng, lat]
    return out


def _header_names(raw: list[str], mapping: dict | None) -> list[str | None]:
    """The profile field of each column (None: ignored), by the job's mapping or the names as they are."""
    if len(set(raw)) != len(raw):
        raise FileError("file_twice", column=next(h for h in raw if raw.count(h) > 1))
    if mapping:
        names = [mapping.get(h, h) or None for h in raw]
    else:
        names = [h.lower() if not PREFIXED.match(h) else h for h in raw]
    unknown = [
        h
        for h in names
        if h is not None and h not in COLUMNS and not PREFIXED.match(h) and not import_consent.is_column(h)
    ]
    if unknown:
        raise FileError(
            "file_unknown_columns",
            columns=", ".join(repr(h) for h in unknown),
            known=", ".join(sorted(COLUMNS)),
        )
    used = [h for h in names if h is not None]
    if len(set(used)) != len(used):
        raise FileError("file_twice", column=next(h for h in used if used.count(h) > 1))
    return names


def csv_rows(
    text, delimiter: str = ",", mapping: dict | None = None, language: str = "en", encoding: str = "utf-8"
) -> iter[Row]:
    say = functools.partial(import_messages.text, language=language)
    reader = csv.reader(text, delimiter=delimiter or ",")
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise FileError("file_header", error=str(exc)) from None
    header = _header_names([h.strip() for h in header], mapping)
    readable = "UTF-8" if encoding.startswith("utf-8") else {"cp1252": "Windows-1252"}.get(encoding, encoding)
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Row(line, errors=[("_row", say("row_csv", error=str(exc)))])
            continue
        if not record or not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            yield Row(line, errors=[("_row", say("row_columns", got=len(record), want=len(header)))])
            continue
        if any("\ufffd" in cell for cell in record):
            yield Row(line, errors=[("_row", say("row_text", encoding=readable))])
            continue
        data, consent = _split_consent(
            {h: (cell if cell.strip() else None) for h, cell in zip(header, record) if h is not None}
        )
        yield Row(line, _shape(data), consent=consent)


def jsonl_rows(text, language: str = "en") -> iter[Row]:
    say = functools.partial(import_messages.text, language=language)
    for line, raw in enumerate(text, 1):
        if not raw.strip():
            continue
        if "\ufffd" in raw:
            yield Row(line, errors=[("_row", say("row_text", encoding="UTF-8"))])
            continue
        if too_deep(raw):
            yield Row(line, errors=[("_row", f"nests deeper than {MAX_DEPTH} levels")])
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield Row(line, errors=[("_row", say("row_json", error=exc.msg, column=exc.colno))])
            continue
        except ValueError as exc:  # a number of too many digits
            yield Row(line, errors=[("_row", f"is not valid JSON: {exc}")])
            continue
        if not isinstance(data, dict):
            yield Row(line, errors=[("_row", say("row_object"))])
            continue
        data, consent = _split_consent(data)
        if any(value is not None and not isinstance(value, str) for value in consent.values()):
            yield Row(line, errors=[("consent", say("row_consent_strings"))])
            continue
        unknown = [k for k in data if k not in JSON_KEYS and not PREFIXED.match(k)]
        if unknown:
            yield Row(
                line,
                errors=[(k, import_messages.reason("is not a profile field", language)) for k in unknown],
            )
            continue
        if isinstance(data.get("location"), dict):
            loc = data.pop("location")
            data["lat"], data["lng"] = loc.get("lat"), loc.get("lng")
        yield Row(
            line, _shape(data), consent={k: (v if v and v.strip() else None) for k, v in consent.items()}
        )


# --- merging a batch --------------------------------------------------------


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0
    consents: int = 0  # consent statements announced to the mailer
    guessed: int = 0  # time zones guessed from a country with several
    rejections: list = field(default_factory=list)
    events: list = field(default_factory=list)
    touched: set = field(default_factory=set)  # profile fields changed ("*": people created)


def _apply(state: dict, update: dict) -> None:
    state.update(update.get("$set", {}))


class Batch:
    """Merge one batch of rows into the store with a handful of round trips."""

    def __init__(self, settings, job: ImportJob, rows: list[Row], seen: dict | None = None):
        self.settings, self.job, self.rows = settings, job, rows
        # customer id -> the first line of this file about them: a later row is a duplicate
        self.seen = {} if seen is None else seen
        self.language = getattr(job, "language", None) or "en"
        self.outcome = Outcome()
        self.collection = Customer._get_collection()
        self.statements: dict[int, list[dict]] = {}  # line -> consent statements of a valid row
        self.person_of: dict[int, object] = {}  # line -> customer id (rows merged or created)

    def say(self, code: str, **params) -> str:
        return import_messages.text(code, self.language, **params)

    def warn(self, row: Row, name: str, reason: str) -> None:
        """Imported, but something was guessed: reported beside the rejections, not counted as one."""
        self.outcome.rejections.append(
            {
                "job_id": self.job.id,
                "row": row.line,
                "field": name,
                "reason": reason,
                "skipped": False,
                "warning": True,
            }
        )
        self.outcome.guessed += 1

    def reject(self, row: Row, errors, skipped: bool = False) -> None:
        for name, reason in errors:
            self.outcome.rejections.append(
                {"job_id": self.job.id, "row": row.line, "field": name, "reason": reason, "skipped": skipped}
            )
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
            errors = {name: import_messages.reason(why, self.language, name) for name, why in errors.items()}
            statements, consent_errors = import_consent.parse(row.consent)
            errors.update(
                {
                    name: import_messages.text(code, self.language, **params)
                    for name, code, params in consent_errors
                }
            )
            if errors:
                self.reject(row, sorted(errors.items()))
                continue
            if not any(values.get(k) for k in ("external_id", "email", "phone")):
                self.reject(row, [("_row", self.say("row_no_key"))])
                continue
            if statements:
                self.statements[row.line] = statements
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
        found = {
            d["hash"]: d["reason"]
            for d in SuppressedContact._get_collection().find(
                {"hash": {"$in": list(hashes)}}, {"hash": 1, "reason": 1}
            )
        }
        # erased here but not yet on the mailer's list (customer.erased on its way)
        for tombstone in Customer._get_collection().find(
            {"erased_contacts": {"$in": list(hashes)}}, {"erased_contacts": 1}
        ):
            for digest in tombstone.get("erased_contacts") or []:
                found.setdefault(digest, "erased")
        kept = []
        for row, values in ready:
            hit = next(
                (
                    (kind, found[contact_hash(kind, values[kind])])
                    for kind in ("email", "phone")
                    if values.get(kind) and contact_hash(kind, values[kind]) in found
                ),
                None,
            )
            if hit:
                self.reject(row, [(hit[0], self.say("suppressed", reason=hit[1]))], skipped=True)
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
                    match, how = index[key][values[key]], f"{key} {values[key]}"
                    break
            if match is not None:
                conflict = self._conflict(match, values, index)
                if conflict:
                    self.reject(row, [conflict])
                    continue
                if match.get("erased"):
                    self.reject(row, [("_row", self.say("erased"))], skipped=True)
                    continue
                if match["_id"] in self.seen:  # two rows of this file about one person: said, not merged
                    self.reject(row, [("_row", self.say("duplicate", line=self.seen[match["_id"]], key=how))])
                    continue
                self.seen[match["_id"]] = row.line
                self.person_of[row.line] = match["_id"]
                update = profiles.merge_changes(match, values)
                if not update:
                    self.outcome.unchanged += 1
                    continue
                _apply(match, update)
                remember(match)
                updates.setdefault(match["_id"], {}).update(update["$set"])
                changed_fields.update(profiles.changed_fields(update))
                rows_of.setdefault(match["_id"], []).append(row.line)
                self.outcome.updated += 1
            else:
                if not values.get("time_zone") and values.get("country"):
                    zone, count = profiles.country_zone(values["country"])
                    if zone:
                        values["time_zone"] = zone
                        if count > 1:
                            self.warn(
                                row,
                                "time_zone",
                                self.say("zone_guessed", zone=zone, country=values["country"], count=count),
                            )
                doc = profiles.new_document(values)
                doc["_id"] = ObjectId()
                self.seen[doc["_id"]] = row.line
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
            self.outcome.events.append(
                CustomerCreated(
                    customer_id=str(cid), source="import", external_id=by_id[cid].get("external_id")
                )
            )
        for cid in updated:
            self.outcome.events.append(
                CustomerUpdated(customer_id=str(cid), source="import", changed=sorted(changed_fields))
            )
        # Consents are the mailer's: announce each statement of a row whose person is stored.
        lost = ({doc["_id"] for doc, _ in new_docs} - set(created)) | (set(updates) - set(updated))
        for line, statements in sorted(self.statements.items()):
            cid = self.person_of.get(line)
            if cid is None or cid in lost:
                continue
            for statement in statements:
                self.outcome.events.append(import_consent.event(statement, cid, self.job.id, line))
                self.outcome.consents += 1

    def _conflict(self, match: dict, values: dict, index: dict):
        """A row that would join two different people, or relabel one: (field, reason)."""
        for key in ("external_id", "email"):
            other = index[key].get(values.get(key)) if values.get(key) else None
            if other is not None and other["_id"] != match["_id"]:
                return key, self.say("conflict_other", other=other["_id"])
        if (
            values.get("external_id")
            and match.get("external_id")
            and values["external_id"] != match["external_id"]
        ):
            return "external_id", self.say("conflict_external", value=match["external_id"])
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
                self.outcome.rejections.append(
                    {
                        "job_id": self.job.id,
                        "row": line,
                        "field": "_row",
                        "reason": self.say("race_created"),
                        "skipped": False,
                    }
                )
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
                self.outcome.rejections.append(
                    {
                        "job_id": self.job.id,
                        "row": line,
                        "field": "email",
                        "reason": self.say("race_email"),
                        "skipped": False,
                    }
                )
        return [cid for i, cid in enumerate(ids) if i not in failed]


# --- the job ----------------------------------------------------------------


class EventSender:
    """Publishes a job's customer.created/updated from a thread, so the broker's
    confirms overlap with the next batch's store work instead of adding to it.

    Each batch's events go out together with one wait for the broker's
    confirms (``Outbox.publish_many``), not one round trip per event; what the
    broker does not confirm is kept in the outbox for the relay."""

    def __init__(self, outbox):
        import queue
        import threading

        self.outbox = outbox
        self.queue: queue.Queue = queue.Queue(maxsize=4)
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
                self.outbox.publish_many([(event, None, None) for event in batch])
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
    from services.segments.jobqueue import queue_recompute
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


COUNTERS = ("created", "updated", "unchanged", "rejected", "skipped", "consents", "guessed")


def run_import(parts, job: ImportJob, owner: str, stopping=None) -> None:
    """Process (or resume) one import job to the end."""
    settings = parts.settings
    done_rows, done_line = job.rows, job.line
    # A batch interrupted before its checkpoint may have reported rows already.
    ImportRejection._get_collection().delete_many({"job_id": job.id, "row": {"$gt": done_line}})
    if not job.started_at:
        ImportJob.objects(id=job.id).update_one(set__started_at=utcnow())
    reader = ChunkReader(job)
    encoding = job.encoding or "utf-8-sig"
    text = io.TextIOWrapper(
        io.BufferedReader(reader, 256 * 1024),
        encoding=encoding,
        errors="replace",
        newline="" if job.format == "csv" else None,
    )
    language = job.language or "en"
    # Rows of this file about one person (customer id -> first line): a second one is reported.
    # (A job resumed after a crash only knows the rows it reads after resuming.)
    seen: dict = {}
    counts = {name: getattr(job, name) for name in COUNTERS}
    rows_seen = 0
    batch: list[Row] = []
    # A resumed job cannot know what the first attempt changed: re-check every segment.
    touched: set[str] = {"*"} if done_rows else set()
    # customer.created/updated may be turned off; consent statements always go (the mailer records them).
    sender = EventSender(parts.outbox)

    def flush():
        nonlocal batch
        if not batch:
            return
        outcome = Batch(settings, job, batch, seen).run()
        touched.update(outcome.touched)
        sender.send(
            outcome.events
            if settings.import_events
            else [e for e in outcome.events if isinstance(e, ConsentImported)]
        )
        if outcome.rejections:
            ImportRejection._get_collection().insert_many(outcome.rejections, ordered=False)
        for name in COUNTERS:
            counts[name] += getattr(outcome, name)
        if not renew(
            ImportJob,
            job.id,
            owner,
            settings.job_lease_seconds,
            rows=rows_seen,
            line=batch[-1].line,
            bytes_read=reader.position,
            **counts,
        ):
            raise LeaseLost()
        batch = []
        if stopping is not None and stopping.is_set():
            raise Stopping()

    try:
        rows = (
            csv_rows(text, job.delimiter, job.mapping or None, language, encoding)
            if job.format == "csv"
            else jsonl_rows(text, language)
        )
        for row in rows:
            rows_seen += 1
            if rows_seen <= done_rows:
                continue
            batch.append(row)
            if len(batch) >= settings.import_batch_size:
                flush()
        flush()
    except FileError as exc:
        finish(ImportJob, job.id, owner, "failed", error=exc.worded(language), **counts)
        return
    finally:
        sender.close()
        recompute_touched(job, touched)
    finish(ImportJob, job.id, owner, "done", bytes_read=job.size, rows=rows_seen, **counts)
    # The upload is no longer needed once every row is in (the report stays).
    ImportChunk._get_collection().delete_many({"_id": {"$regex": f"^{job.id}:"}})
