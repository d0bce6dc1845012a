"""Background jobs run by the worker part: imports and segment recomputes.

A job is claimed with a conditional update (``queued``, or ``running`` with
an expired lease) so that any number of worker replicas share the work and
a job whose worker died is taken over; the lease is renewed at every
checkpoint. The same loop queues the periodic recompute of segments whose
rules hold relative times (their membership drifts as time passes), once
per interval slot thanks to a unique job key.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from services.segments.importer import run_import
from services.segments.jobqueue import (
    LeaseLost,
    Stopping,
    claim,
    finish,
    give_back,
    release,
    renew,
)
from services.segments.membership import Membership, active_dynamic, dependencies
from services.segments.models import ImportJob, RecomputeJob
from services.segments.store import segments as store

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def run_recompute(parts, job: RecomputeJob, owner: str, stopping: threading.Event | None = None) -> None:
    settings = parts.settings
    segment = store.find_segment(job.segment_id)
    if segment is None or segment.kind != "dynamic" or segment.archived:
        finish(RecomputeJob, job.id, owner, "failed", error="segment missing, static or archived")
        return
    # The first filling of a new segment is silent: nobody "entered" it, it began.
    membership = Membership(parts, announce=job.reason != "created")

    def progress(stats):
        if stopping is not None and stopping.is_set():
            raise Stopping()
        if not renew(RecomputeJob, job.id, owner, settings.job_lease_seconds, **stats):
            raise LeaseLost()

    stats = membership.recompute(segment, progress)
    finish(RecomputeJob, job.id, owner, "done", **stats)


def queue_periodic(interval: float) -> int:
    """Queue one recompute per relative-time segment for the current interval slot."""
    slot = int(time.time() // interval)
    queued = 0
    for segment in active_dynamic():
        _, relative = dependencies(segment)
        if relative and store.queue_recompute(segment.id, "periodic", key=f"{segment.id}:{slot}"):
            queued += 1
    return queued


class JobRunner(threading.Thread):
    """Runs import and recompute jobs beside the consumer, in the worker process."""

    def __init__(self, parts):
        super().__init__(name="segments-jobs", daemon=True)
        self.parts = parts
        self.settings = parts.settings
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
                runner(self.parts, job, self.owner, self.stopping)
            except LeaseLost:
                log.warning("lost the lease on %s %s", document.__name__, job.id)
            except Stopping:
                release(document, job.id, self.owner)
                log.info("handed %s %s back at its checkpoint", document.__name__, job.id)
            except Exception as exc:  # noqa: BLE001 - recorded on the job; retried up to MAX_ATTEMPTS
                log.exception("%s %s failed", document.__name__, job.id)
                give_back(document, job.id, self.owner, f"{type(exc).__name__}: {exc}"[:1000])
            return True
        return False
