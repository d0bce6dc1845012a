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

The upload's chunks: ``import_upload``; reading the rows: ``import_rows``;
merging a batch: ``import_batch``; this module runs the job.
"""

from __future__ import annotations

import io
import logging

from services.segments.import_batch import Batch
from services.segments.import_rows import FileError, Row, csv_rows, jsonl_rows
from services.segments.import_upload import ChunkReader
from services.segments.jobqueue import LeaseLost, Stopping, finish, renew
from services.segments.models import ImportJob
from services.segments.store import imports as import_store
from services.segments.store import segments as segment_store

log = logging.getLogger(__name__)


class EventSender:
    """Announces a job's customer.created/updated and consent.imported from a thread, so the
    broker's confirms overlap with the next batch's store work instead of adding to it.

    Each batch's events go out together with one wait for the broker's
    confirms (``Outbox.announce`` of the batch's intent), not one round trip per
    event; what the broker does not confirm is kept in the outbox for the relay.
    The intent was written before the batch's writes (``import_batch``): a
    process that dies before its events went out (the checkpoint may already be
    past the batch, and a re-run batch changes nothing, so announces nothing)
    leaves the intent, and the relay announces what the store holds, once."""

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
                continue  # drain: the job fails on the error below (its intent is the relay's)
            intent, envelopes = batch
            try:
                self.outbox.announce(intent, envelopes)
            except BaseException as exc:  # noqa: BLE001 - raised on the job's thread (send / close)
                self.error = exc

    def _raise(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"announcing the import's rows failed: {self.error}") from self.error

    def send(self, intent, envelopes: list) -> None:
        """Queue a batch's announcement; raises if announcing an earlier batch failed (the job is retried)."""
        self._raise()
        if intent is not None:
            self.queue.put((intent, envelopes))

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self._raise()


def recompute_touched(job: ImportJob, touched: set[str]) -> int:
    """One full recompute per dynamic segment the import can have changed.

    Cheaper than evaluating each batch against every segment, and the
    recompute announces segment.entered/left like any other change.
    """
    from services.segments.membership import active_dynamic, dependencies
    from services.segments.rules import affected

    queued = 0
    if not touched:
        return 0
    for segment in active_dynamic():
        if affected(dependencies(segment)[0], touched):
            if segment_store.queue_recompute(
                segment.id, "import", key=f"{segment.id}:import:{job.id}:{job.attempts}"
            ):
                queued += 1
    return queued


COUNTERS = ("created", "updated", "unchanged", "rejected", "skipped", "consents", "guessed")


def run_import(parts, job: ImportJob, owner: str, stopping=None) -> None:
    """Process (or resume) one import job to the end."""
    settings = parts.settings
    done_rows, done_line = job.rows, job.line
    # A batch interrupted before its checkpoint may have reported rows already.
    import_store.forget_rejections_after(job.id, done_line)
    if not job.started_at:
        import_store.mark_started(job.id)
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
    sender = EventSender(parts.outbox)

    def flush():
        nonlocal batch
        if not batch:
            return
        outcome = Batch(settings, job, batch, seen, parts.outbox).run()
        touched.update(outcome.touched)
        sender.send(outcome.intent, outcome.envelopes)
        if outcome.rejections:
            import_store.add_rejections(outcome.rejections)
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
    import_store.delete_chunks(job.id)
