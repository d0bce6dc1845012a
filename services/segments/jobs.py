"""Background jobs run by the worker part: imports and segment recomputes.

A job is claimed with a conditional update (``queued``, or ``running`` with
an expired lease) so that any number of worker replicas share the work and
a job whose worker died is taken over; the lease is renewed at every
checkpoint. The same loop queues the periodic recompute of segments whose
rules hold relative times (their membership drifts as time passes), once
per interval slot thanks to a unique job key.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import threading
import time

import mongoengine as me
from pymongo import ReturnDocument

from services.segments.membership import Membership, active_dynamic, dependencies
from services.segments.models import ImportJob, RecomputeJob
from shared.models import Segment
from shared.store import utcnow

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def claim(document, owner: str, lease_seconds: float):
    """Take the oldest runnable job of this kind, or None."""
    now = utcnow()
    raw = document._get_collection().find_one_and_update(
        {"$or": [{"status": "queued"}, {"status": "running", "lease_until": {"$lt": now}}]},
        {
            "$set": {
                "status": "running",
                "owner": owner,
                "lease_until": now + datetime.timedelta(seconds=lease_seconds),
            },
            "$inc": {"attempts": 1},
        },
        sort=[("created_at", 1)],
        return_document=ReturnDocument.AFTER,
    )
    return None if raw is None else document._from_son(raw)


def renew(document, job_id, owner: str, lease_seconds: float, **progress) -> bool:
    """Extend the lease and save progress; False when another worker took the job over."""
    update = {"$set": {"lease_until": utcnow() + datetime.timedelta(seconds=lease_seconds), **progress}}
    return document._get_collection().update_one({"_id": job_id, "owner": owner}, update).matched_count == 1


def finish(document, job_id, owner: str, status: str, **fields) -> None:
    document._get_collection().update_one(
        {"_id": job_id, "owner": owner},
        {"$set": {"status": status, "finished_at": utcnow(), **fields}, "$unset": {"lease_until": ""}},
    )


class LeaseLost(Exception):
    """Another worker owns the job now; stop without touching it."""


class Stopping(Exception):
    """This worker is shutting down: hand the job back at its last checkpoint."""


def release(document, job_id, owner: str) -> None:
    """Make a job runnable again by anyone (it resumes from its checkpoint)."""
    document._get_collection().update_one(
        {"_id": job_id, "owner": owner},
        {"$set": {"status": "queued"}, "$unset": {"owner": "", "lease_until": ""}, "$inc": {"attempts": -1}},
    )


def run_recompute(settings, job: RecomputeJob, owner: str, stopping: threading.Event | None = None) -> None:
    segment = Segment.objects(id=job.segment_id).first()
    if segment is None or segment.kind != "dynamic" or segment.archived:
        finish(RecomputeJob, job.id, owner, "failed", error="segment missing, static or archived")
        return
    # The first filling of a new segment is silent: nobody "entered" it, it began.
    membership = Membership(settings, announce=job.reason != "created")

    def progress(stats):
        if stopping is not None and stopping.is_set():
            raise Stopping()
        if not renew(RecomputeJob, job.id, owner, settings.job_lease_seconds, **stats):
            raise LeaseLost()

    stats = membership.recompute(segment, progress)
    finish(RecomputeJob, job.id, owner, "done", **stats)


def queue_recompute(segment_id, reason: str, key: str | None = None) -> RecomputeJob | None:
    try:
        return RecomputeJob(segment_id=segment_id, reason=reason, key=key).save()
    except me.NotUniqueError:
        return None


def queue_periodic(interval: float) -> int:
    """Queue one recompute per relative-time segment for the current interval slot."""
    slot = int(time.time() // interval)
    queued = 0
    for segment in active_dynamic():
        _, relative = dependencies(segment)
        if relative and queue_recompute(segment.id, "periodic", key=f"{segment.id}:{slot}"):
            queued += 1
    return queued


class JobRunner(threading.Thread):
    """Runs import and recompute jobs beside the consumer, in the worker process."""

    def __init__(self, settings):
        super().__init__(name="segments-jobs", daemon=True)
        self.settings = settings
        self.stopping = threading.Event()
        self.owner = worker_name()
        self._last_periodic = 0.0

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                worked = self.run_once()
            except Exception:  # noqa: BLE001 - a failed round must not stop the runner
                log.exception("job round failed")
                worked = False
            if not worked:
                self.stopping.wait(self.settings.job_poll_seconds)

    def run_once(self) -> bool:
        if time.monotonic() - self._last_periodic >= self.settings.recompute_interval:
            self._last_periodic = time.monotonic()
            queue_periodic(self.settings.recompute_interval)
        from services.segments.importer import run_import

        for document, runner in ((ImportJob, run_import), (RecomputeJob, run_recompute)):
            job = claim(document, self.owner, self.settings.job_lease_seconds)
            if job is None:
                continue
            if job.attempts > MAX_ATTEMPTS:
                finish(
                    document,
                    job.id,
                    self.owner,
                    "failed",
                    error=f"gave up after {MAX_ATTEMPTS} attempts; last error: {job.error or 'worker lost'}",
                )
                return True
            try:
                runner(self.settings, job, self.owner, self.stopping)
            except LeaseLost:
                log.warning("lost the lease on %s %s", document.__name__, job.id)
            except Stopping:
                release(document, job.id, self.owner)
                log.info("handed %s %s back at its checkpoint", document.__name__, job.id)
            except Exception as exc:  # noqa: BLE001 - recorded on the job; retried up to MAX_ATTEMPTS
                log.exception("%s %s failed", document.__name__, job.id)
                document._get_collection().update_one(
                    {"_id": job.id, "owner": self.owner},
                    {"$set": {"status": "queued", "error": f"{type(exc).__name__}: {exc}"[:1000]}},
                )
            return True
        return False
