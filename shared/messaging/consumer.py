"""The consumer base every worker uses.

* A message is acked only after its handler returned (the work is stored).
* A body that is not a well-formed message of a known type and version, a
  well-formed message of a type the queue is not bound for (it can never be
  handled there: retrying would only delay the dead letter), or a handler
  raising ``Poison``, goes to ``<queue>.dlq`` at once, with the reason in the
  ``x-vinculo-reason`` header.
* Any other exception is treated as transient: the message is re-published
  to ``<queue>.retry`` with a growing delay (bounded by ``max_delay``) and
  after ``max_attempts`` it goes to the DLQ with the last error as reason.
* Every move (retry, dead letter) is confirmed by the broker before the
  original is acked, so nothing is lost; the worker keeps consuming.
* Messages already handled by this consumer (by message id) are acked and
  skipped; handlers must also be idempotent by a unique key in their write,
  which covers a crash between the work and that record.

Micro-batching (optional, per queue): see ``shared.messaging.batches``; the
retry and dead-letter moves: ``shared.messaging.moves``; the record of handled
message ids (``ProcessedMessage``, still importable from here):
``shared.messaging.processed``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import mongoengine as me
from kombu import Producer
from kombu.mixins import ConsumerMixin
from pymongo.errors import DuplicateKeyError

from shared import metrics
from shared.logs import reset_correlation_id, set_correlation_id
from shared.messaging.batches import BatchHandler, Batching
from shared.messaging.connection import release_quietly
from shared.messaging.contracts import ContractError, Envelope, parse_envelope
from shared.messaging.moves import Moves
from shared.messaging.processed import ProcessedMessage
from shared.messaging.topology import Topology, accepts

__all__ = ["Handler", "Poison", "ProcessedMessage", "Stats", "Worker"]

log = logging.getLogger(__name__)

Handler = Callable[[Envelope], None]


class Poison(Exception):
    """Raised by a handler for a message that can never succeed (unknown customer...)."""


@dataclass
class Stats:
    handled: int = 0
    duplicates: int = 0
    retried: int = 0
    dead_lettered: int = 0


class Worker(Batching, Moves, ConsumerMixin):
    """Consume ``handlers`` (plain queue name -> function) until stopped.

    ``batch_handlers`` (plain queue name -> function of a list of envelopes)
    switches those queues to micro-batches of up to ``batch_size`` messages;
    their entry in ``handlers`` is still needed: it is the per-message path
    a failed batch falls back to.
    """

    def __init__(
        self,
        connection,
        topology: Topology,
        handlers: dict[str, Handler],
        *,
        name: str,
        max_attempts: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        prefetch: int = 20,
        on_idle: Callable[[], None] | None = None,
        idle_every: float = 5.0,
        lag_every: float = 15.0,
        batch_handlers: dict[str, BatchHandler] | None = None,
        batch_size: int = 100,
        batch_wait: float = 0.005,
    ):
        self.connection = connection
        self.topology = topology
        self.handlers = handlers
        self.name = name
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.prefetch = prefetch
        self.on_idle = on_idle
        self.idle_every = idle_every
        self._last_idle = 0.0
        self.lag_every = lag_every
        self._last_lag = time.monotonic()
        self._lag_connection = None
        self.stats = Stats()
        self._producer: Producer | None = None
        self._publish_connection = None
        self.batch_handlers = dict(batch_handlers or {})
        unknown = set(self.batch_handlers) - set(handlers)
        if unknown:
            raise ValueError(f"batch handlers without a per-message handler: {sorted(unknown)}")
        self.batch_size = max(1, batch_size)
        self.batch_wait = batch_wait
        # plain queue -> [(message, envelope)] taken but not yet handled nor acked
        self._pending: dict[str, list] = {}
        self.consuming_channel = None

    # kombu hooks -------------------------------------------------------------

    def get_consumers(self, Consumer, channel):
        self.topology.declare(channel, list(self.handlers))
        consumers = []
        self._pending = {}  # a new channel: tags of the old one cannot be acked here
        self.consuming_channel = channel
        for plain in self.handlers:
            # A batch can only fill up if the broker lets that many messages out unacked.
            prefetch = max(self.prefetch, self.batch_size) if plain in self.batch_handlers else self.prefetch
            consumer = Consumer(
                queues=[self.topology.queue(plain)],
                on_message=lambda message, plain=plain: self.on_message(plain, message),
                prefetch_count=prefetch,
            )
            consumers.append(consumer)
        return consumers

    def on_iteration(self):
        if self.lag_every and time.monotonic() - self._last_lag >= self.lag_every:
            self._last_lag = time.monotonic()
            self.sample_lag()
        if self.on_idle and time.monotonic() - self._last_idle >= self.idle_every:
            self._last_idle = time.monotonic()
            try:
                self.on_idle()
            except Exception:  # noqa: BLE001 - a housekeeping failure must not stop consuming
                log.exception("idle task failed")

    def run(self, *args, **kwargs):
        try:
            super().run(*args, **kwargs)
        finally:
            self._close_lag_connection()
            self._close_publish_connection()

    def sample_lag(self) -> None:
        """Set the queue-lag gauge: messages ready in each consumed queue.

        A passive declare on a connection of its own, so a queue that
        vanished (a 404 closes the channel) never disturbs consuming.
        """
        try:
            if self._lag_connection is None:
                self._lag_connection = self.connection.clone()
                # Fail fast when the broker is away: this runs inside the consume loop.
                self._lag_connection.ensure_connection(max_retries=1, interval_start=0, interval_max=0.2)
            channel = self._lag_connection.default_channel
            for plain in self.handlers:
                _, ready, _ = channel.queue_declare(queue=self.topology.name(plain), passive=True)
                metrics.QUEUE_READY.labels(plain).set(ready)
        except Exception as exc:  # noqa: BLE001 - a metric must never stop the worker
            log.debug("queue lag not sampled: %s", exc)
            self._close_lag_connection()

    def _close_lag_connection(self) -> None:
        release_quietly(self._lag_connection)
        self._lag_connection = None

    def on_connection_error(self, exc, interval):
        log.warning("broker connection lost (%s); retrying in %.1f s", exc, interval)

    # message handling --------------------------------------------------------

    @staticmethod
    def attempt_of(message) -> int:
        return int((message.headers or {}).get("x-vinculo-attempt", 0))

    def on_message(self, plain: str, message) -> None:
        headers = message.headers or {}
        attempt = self.attempt_of(message)
        metrics.CONSUMED.labels(plain).inc()
        try:
            envelope = parse_envelope(message.body)
        except ContractError as exc:
            # The publisher also puts the correlation id in a header: keep it in the log.
            token = set_correlation_id(headers.get("correlation_id") or None)
            try:
                self.dead_letter(plain, message, f"malformed message: {exc}", attempt)
            finally:
                reset_correlation_id(token)
            return
        if not accepts(plain, envelope.type):
            token = set_correlation_id(envelope.correlation_id)
            try:
                metrics.FAILED.labels(plain).inc()
                self.dead_letter(
                    plain, message, f"unexpected type: {envelope.type} is not handled by {plain}", attempt
                )
            finally:
                reset_correlation_id(token)
            return
        if plain in self.batch_handlers:
            batch = self._pending.setdefault(plain, [])
            batch.append((message, envelope))
            if len(batch) >= self.batch_size:
                self.flush(plain)
            return
        self.process(plain, message, envelope)

    def process(self, plain: str, message, envelope: Envelope) -> None:
        """The single-message path: handle, ack; or retry / dead-letter."""
        attempt = self.attempt_of(message)
        token = set_correlation_id(envelope.correlation_id)
        started = time.perf_counter()
        try:
            self.handle(plain, envelope)
            message.ack()
            metrics.HANDLING.labels(plain).observe(time.perf_counter() - started)
        except Poison as exc:
            metrics.FAILED.labels(plain).inc()
            self.dead_letter(plain, message, f"poison: {exc}", attempt)
        except Exception as exc:  # noqa: BLE001 - anything else may pass: retry, bounded
            metrics.FAILED.labels(plain).inc()
            if attempt + 1 >= self.max_attempts:
                self.dead_letter(
                    plain,
                    message,
                    f"failed {attempt + 1} times; last error: {type(exc).__name__}: {exc}",
                    attempt,
                )
            else:
                log.warning("%s on %s failed (attempt %d): %s", envelope.type, plain, attempt + 1, exc)
                self.retry(plain, message, attempt + 1)
        finally:
            reset_correlation_id(token)

    def processed(self):
        """The collection of ProcessedMessage (the batch path reads and writes it raw)."""
        return ProcessedMessage._get_collection()

    def handle(self, plain: str, envelope: Envelope) -> None:
        consumer = self.topology.name(plain)
        if ProcessedMessage.objects(consumer=consumer, message_id=envelope.message_id).only("id").first():
            self._counted(plain, consumer, envelope, duplicate=True)
            return
        self.handlers[plain](envelope)
        try:
            ProcessedMessage(consumer=consumer, message_id=envelope.message_id).save()
        except (me.NotUniqueError, DuplicateKeyError):
            pass  # a concurrent redelivery finished first; the handler's own key kept it single
        self._counted(plain, consumer, envelope)
