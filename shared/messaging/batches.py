"""Micro-batches for the consumer base (``Worker(batch_handlers=...)``).

Messages of a queue with a batch handler are parsed as they come (malformed
ones go to the DLQ at once) and collected; the batch is flushed when it holds
``batch_size`` messages or when no further message arrives within
``batch_wait`` seconds (so a lone message is handled at once, not after a
timer). A flush does one dedupe query for the batch, calls the batch handler
once with the new envelopes, records them all in one write and then acks each
message, on the consuming thread (kombu is not thread-safe). If anything in
that raises, every message of the batch goes through the single-message path
(retry, poison and DLQ per message, exactly as without batching). A batch is
flushed before the worker stops; when the connection is lost it is dropped
unacked, and the broker redelivers it (a copy already handled is dropped by
its message id).

``Batching`` is a mixin of ``Worker``: it uses the worker's ``process``
(single-message path), ``processed()`` (the ProcessedMessage collection),
``topology``, ``stats`` and kombu's ``consumer_context``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from itertools import count

from pymongo.errors import BulkWriteError

from shared import metrics
from shared.logs import event as log_event
from shared.logs import reset_correlation_id, set_correlation_id
from shared.messaging.contracts import Envelope
from shared.store import utcnow

log = logging.getLogger("shared.messaging.consumer")

# Handles a batch; may return the message ids it ignored (their handling changes nothing,
# so no processed record is written for them).
BatchHandler = Callable[[list[Envelope]], "Iterable[str] | None"]


class Batching:
    batch_handlers: dict[str, BatchHandler]
    batch_size: int
    batch_wait: float
    _pending: dict[str, list]

    def consume(self, limit=None, timeout=None, safety_interval=1, **kwargs):
        """kombu's consume loop, which also flushes pending batches.

        While a batch is pending, waiting for the next message lasts only
        ``batch_wait``; when nothing more came, the batch is flushed. Each
        flush counts as an iteration (a ``yield``), like a message does.
        """
        if not self.batch_handlers:
            yield from super().consume(
                limit=limit, timeout=timeout, safety_interval=safety_interval, **kwargs
            )
            return
        elapsed = 0
        with self.consumer_context(**kwargs) as (conn, _channel, _consumers):
            clean = False
            try:
                for _ in limit and range(limit) or count():
                    if self.should_stop:
                        break
                    self.on_iteration()
                    pending = self.pending_count
                    try:
                        conn.drain_events(timeout=self.batch_wait if pending else safety_interval)
                    except TimeoutError:
                        if pending:
                            conn.heartbeat_check()
                            self.flush_all()
                            yield
                            elapsed = 0
                            continue
                        conn.heartbeat_check()
                        elapsed += safety_interval
                        if timeout and elapsed >= timeout:
                            raise
                    except OSError:
                        if not self.should_stop:
                            raise
                    else:
                        yield
                        elapsed = 0
                clean = True
            except GeneratorExit:
                clean = True  # the caller stopped iterating: a stop, not a broken connection
                raise
            finally:
                if clean:
                    self.flush_all()
                else:
                    self.drop_pending()

    @property
    def pending_count(self) -> int:
        return sum(len(batch) for batch in self._pending.values())

    def drop_pending(self) -> None:
        """Forget taken messages without acking them: the broker redelivers them."""
        dropped = self.pending_count
        self._pending = {}
        if dropped:
            log.warning("%d unacked messages left for redelivery", dropped)

    def flush_all(self) -> None:
        for plain in list(self._pending):
            self.flush(plain)

    def flush(self, plain: str) -> None:
        """Handle the pending batch of ``plain`` (see the module docstring), then ack it."""
        batch = self._pending.pop(plain, [])
        if not batch:
            return
        consumer = self.topology.name(plain)
        started = time.perf_counter()
        try:
            ids = list({envelope.message_id for _, envelope in batch})
            done = {
                row["message_id"]
                for row in self.processed().find(
                    {"consumer": consumer, "message_id": {"$in": ids}}, {"message_id": 1}
                )
            }
            fresh: dict[str, Envelope] = {}
            for _, envelope in batch:
                if envelope.message_id not in done:
                    fresh.setdefault(envelope.message_id, envelope)
            if fresh:
                ignored = set(self.batch_handlers[plain](list(fresh.values())) or ())
                # A message whose handling changed nothing needs no record: handled again, it
                # changes nothing again (an import's own customer.created events, say).
                self._record(consumer, [mid for mid in fresh if mid not in ignored])
        except Exception as exc:  # noqa: BLE001 - each message then gets the single-message path
            log.warning(
                "batch of %d on %s failed (%s: %s); handling its messages one by one",
                len(batch),
                plain,
                type(exc).__name__,
                exc,
            )
            for message, envelope in batch:
                self.process(plain, message, envelope)
            return
        per_message = (time.perf_counter() - started) / len(batch)
        for message, envelope in batch:
            token = set_correlation_id(envelope.correlation_id)
            try:
                if fresh.pop(envelope.message_id, None) is not None:
                    metrics.HANDLING.labels(plain).observe(per_message)
                    self._counted(plain, consumer, envelope)
                else:
                    self._counted(plain, consumer, envelope, duplicate=True)
                message.ack()
            finally:
                reset_correlation_id(token)

    def _counted(self, plain: str, consumer: str, envelope: Envelope, duplicate: bool = False) -> None:
        """Count and log one message handled (or skipped as a duplicate of one handled before)."""
        if duplicate:
            self.stats.duplicates += 1
            metrics.DUPLICATES.labels(plain).inc()
        else:
            self.stats.handled += 1
            metrics.HANDLED.labels(plain).inc()
        log_event(
            log,
            "duplicate message skipped" if duplicate else "message handled",
            logging.DEBUG if duplicate else logging.INFO,
            queue=consumer,
            type=envelope.type,
            message_id=envelope.message_id,
        )

    def _record(self, consumer: str, message_ids: list[str]) -> None:
        """ProcessedMessage rows for a handled batch; rows already there are fine."""
        if not message_ids:
            return
        now = utcnow()
        try:
            self.processed().insert_many(
                [{"consumer": consumer, "message_id": mid, "at": now} for mid in message_ids], ordered=False
            )
        except BulkWriteError as exc:
            if any(error.get("code") != 11000 for error in exc.details.get("writeErrors", [])):
                raise
