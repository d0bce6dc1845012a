"""The poller part: runs every source for every active query on an interval.

Safe with several replicas: each (query, source) pair is taken with a
conditional update on its SourceCursor (``lease_until`` in the past, or no
lease), so one replica polls it at a time; a replica that dies leaves its
lease to expire. Posts are stored (deduplicated) before the cursor moves, so
a restart repeats at most one poll's work and never skips any.
"""

from __future__ import annotations

import datetime
import logging
import os
import signal
import socket
import threading
import time

from services.listener import store
from services.listener.bootstrap import ListenerParts
from services.listener.sources import AuthFailed, SourceError
from services.listener.sources.base import Fetch
from shared.logs import event as log_event
from shared.store import utcnow

log = logging.getLogger(__name__)


class Poller:
    """Polls with the listener's parts (``bootstrap.build``): its settings, sources, outbox,
    pipeline and alerts. Their builder closes them."""

    def __init__(self, parts: ListenerParts, sources: dict | None = None, owner: str | None = None):
        self.parts = parts
        settings = self.settings = parts.settings
        self.sources = sources if sources is not None else self.parts.sources
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.lease = store.cursor_lease(self.owner, settings.lease_seconds)
        self.publisher = self.parts.outbox
        self.pipeline = self.parts.pipeline
        self.alerts = self.parts.alerts
        self.stopping = threading.Event()
        self._last_housekeeping = 0.0

    # claiming ---------------------------------------------------------------

    def ensure_cursors(self) -> list:
        """A cursor for every (active query, source) pair; returns the active queries."""
        queries = store.active_queries()
        existing = store.cursor_pairs([q.id for q in queries])
        for query in queries:
            for source in query.sources:
                if (query.id, source) not in existing:
                    store.add_cursor(query.id, source)
        return queries

    def claim(self, query_ids: list, skip: list | None = None) -> dict | None:
        now = utcnow()
        return self.lease.claim(
            {
                "query_id": {"$in": query_ids},
                "status": {"$ne": "auth_failed"},
                "_id": {"$nin": skip or []},
                "$and": [{"$or": [{"next_poll_at": None}, {"next_poll_at": {"$lte": now}}]}],
            },
            now=now,
            sort=[("next_poll_at", 1)],
        )

    def release(self, claimed: dict, **changes) -> bool:
        """Store the poll's outcome and give the lease back (only if we still hold it).

        A change to None removes the field (see shared/leases.py).
        """
        now = utcnow()
        values = {"updated_at": now, "last_polled_at": now, **changes}
        fetched = values.pop("fetched", 0)
        return self.lease.release(claimed["_id"], inc={"fetched": fetched} if fetched else None, **values)

    # polling ------------------------------------------------------------------

    def poll(self, claimed: dict, query) -> None:
        source_name = claimed["source"]
        source = self.sources.get(source_name)
        interval = datetime.timedelta(seconds=self.settings.poll_interval)
        if query is None or source is None:
            self.release(
                claimed,
                next_poll_at=utcnow() + interval,
                status="error",
                message=f"no source {source_name!r} configured",
            )
            return
        fetch = Fetch(source.pages(query, claimed.get("cursor") or {}))
        # Pages are understood and stored as they arrive; a source failure ends the posts early.
        try:
            ingested = self.pipeline.ingest(query, fetch, server_matched=source_name != "rss")
        finally:
            fetch.close()
        if fetch.error is not None:
            self._failed(claimed, query, source_name, fetch.error, interval, kept=len(ingested.new))
            if ingested.new:
                self.alerts.evaluate(query)
            return
        result = fetch.result
        if result.retry_at is not None:
            status, message, next_at = "rate_limited", result.message, result.retry_at
        else:
            status = "ok"
            message = "; ".join(result.warnings)[:1000] if result.warnings else None
            next_at = utcnow() + interval
        if not self.release(
            claimed,
            cursor=result.cursor,
            status=status,
            message=message,
            next_poll_at=next_at,
            fetched=len(ingested.new),
        ):
            log.warning(
                "lease on %s/%s was lost during the poll; its posts are stored, the cursor is "
                "left to the new holder",
                query.id,
                source_name,
            )
        log_event(
            log,
            "polled",
            query_id=str(query.id),
            source=source_name,
            fetched=fetch.count,
            new=len(ingested.new),
            duplicates=ingested.duplicates,
            status=status,
        )
        if ingested.new or fetch.count:
            self.alerts.evaluate(query)

    def _failed(self, claimed: dict, query, source_name: str, exc: Exception, interval, kept: int) -> None:
        """A poll the source broke off: what came before is stored, the cursor stays where it was."""
        if isinstance(exc, AuthFailed):
            log_event(
                log,
                "source stopped: auth failed",
                logging.WARNING,
                query_id=str(query.id),
                source=source_name,
                reason=str(exc),
            )
            self.release(
                claimed, status="auth_failed", message=str(exc)[:1000], next_poll_at=None, fetched=kept
            )
        elif isinstance(exc, SourceError):
            log_event(
                log,
                "poll failed",
                logging.WARNING,
                query_id=str(query.id),
                source=source_name,
                reason=str(exc),
            )
            self.release(
                claimed,
                status="error",
                message=str(exc)[:1000],
                next_poll_at=utcnow() + interval,
                fetched=kept,
            )
        else:  # a client library surprise: show it, retry next interval
            log.error("poll of %s/%s failed unexpectedly", query.id, source_name, exc_info=exc)
            self.release(
                claimed,
                status="error",
                message=f"{type(exc).__name__}: {exc}"[:1000],
                next_poll_at=utcnow() + interval,
                fetched=kept,
            )

    def run_once(self) -> int:
        """Poll every due pair once; returns how many polls ran."""
        queries = {q.id: q for q in self.ensure_cursors()}
        done: list = []  # each pair at most once per round, however short the interval
        while not self.stopping.is_set():
            claimed = self.claim(list(queries), done)
            if claimed is None:
                break
            done.append(claimed["_id"])
            self.poll(claimed, queries.get(claimed["query_id"]))
        polls = len(done)
        self.housekeeping(queries.values())
        return polls

    def housekeeping(self, queries, every: float = 5.0) -> None:
        """Relay the outbox (kept events, and batches a crash left unannounced), close calmed episodes."""
        if time.monotonic() - self._last_housekeeping < every:
            return
        self._last_housekeeping = time.monotonic()
        try:
            self.publisher.relay()
            for query in queries:
                self.alerts.evaluate(query)
        except Exception:  # noqa: BLE001 - housekeeping must not stop polling
            log.exception("housekeeping failed")

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                polls = self.run_once()
            except Exception:  # noqa: BLE001 - a store or broker hiccup: log, wait, go on
                log.exception("poll round failed")
                polls = 0
            if not polls:
                self.stopping.wait(self.settings.poll_idle)


def main(parts) -> None:
    """Run the poller with the listener's parts (``bootstrap.build``) until SIGTERM."""
    parts.prepare_store()
    poller = Poller(parts)
    signal.signal(signal.SIGTERM, lambda *_: poller.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: poller.stopping.set())
    log.info("poller %s started", poller.owner)
    try:
        poller.run()
    finally:
        parts.close()
