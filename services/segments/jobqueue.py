"""The job queue of the worker part: the lease on a claimed job (queueing one: ``store``).

A job is claimed when ``queued``, or ``running`` with an expired lease (its
worker died), and its ``attempts`` counted; the lease itself is the shared
helper (shared/leases.py) over the job's collection.
"""

from __future__ import annotations

from shared.leases import Lease, LeaseLost
from shared.store import utcnow

__all__ = ["LeaseLost", "Stopping", "claim", "finish", "give_back", "release", "renew"]


class Stopping(Exception):
    """This worker is shutting down: hand the job back at its last checkpoint."""


def _lease(document, owner: str, lease_seconds: float = 0) -> Lease:
    return Lease(document._get_collection, owner, lease_seconds)


def claim(document, owner: str, lease_seconds: float):
    """Take the oldest runnable job of this kind, or None."""
    raw = _lease(document, owner, lease_seconds).claim(
        {"status": {"$in": ["queued", "running"]}},
        sort=[("created_at", 1)],
        inc={"attempts": 1},
        status="running",
    )
    return None if raw is None else document._from_son(raw)


def renew(document, job_id, owner: str, lease_seconds: float, **progress) -> bool:
    """Extend the lease and save progress; False when another worker took the job over."""
    return _lease(document, owner, lease_seconds).renew(job_id, **progress)


def finish(document, job_id, owner: str, status: str, **fields) -> None:
    _lease(document, owner).release(job_id, status=status, finished_at=utcnow(), **fields)


def release(document, job_id, owner: str) -> None:
    """Make a job runnable again by anyone (it resumes from its checkpoint); this attempt does not count."""
    _lease(document, owner).release(job_id, status="queued", inc={"attempts": -1})


def give_back(document, job_id, owner: str, error: str) -> None:
    """A failed attempt: runnable again at once by anyone, with the error kept (the attempt counts)."""
    _lease(document, owner).release(job_id, status="queued", error=error)
