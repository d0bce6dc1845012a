"""Retries and dead letters for the consumer base (``Worker``): moving a message elsewhere.

* ``retry`` re-publishes a message to ``<queue>.retry`` with its attempt
  number in ``x-vinculo-attempt`` and a growing delay (``delay_for``: doubling
  from ``base_delay``, bounded by ``max_delay``) as its expiration; the retry
  queue dead-letters it back to the work queue when the delay is over.
* ``dead_letter`` re-publishes it to ``<queue>.dlq`` with the reason, the
  queue, the routing key, the attempts and the time in ``x-vinculo-*``
  headers.

Both are confirmed by the broker before the original is acked, so nothing is
lost. ``Moves`` is a mixin of ``Worker``: it uses the worker's
``connection``, ``topology``, ``stats``, ``base_delay`` and ``max_delay``.
"""

from __future__ import annotations

import logging

from kombu import Producer

from shared import metrics
from shared.logs import event as log_event
from shared.messaging.connection import release_quietly
from shared.messaging.topology import Topology
from shared.store import utcnow

log = logging.getLogger("shared.messaging.consumer")


class Moves:
    topology: Topology
    base_delay: float
    max_delay: float
    _producer: Producer | None

    def producer(self) -> Producer:
        """The producer for retries and dead letters, on a connection of its own.

        Not the consuming channel: waiting there for a publish confirm
        dispatches the deliveries that arrive meanwhile into ``on_message``,
        whose own republish then waits for a confirm in turn; when the broker
        confirms both with one multiple ack, the outer wait never ends and the
        worker stops consuming (a burst of malformed messages did that). A
        connection without consumers receives only its own confirms.
        """
        if self._producer is None:
            self._publish_connection = self.connection.clone()
            self._producer = Producer(self._publish_connection.default_channel)
        return self._producer

    def _close_publish_connection(self) -> None:
        release_quietly(self._publish_connection)
        self._publish_connection = self._producer = None

    def delay_for(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))

    def _republish(self, message, routing_key: str, headers: dict, expiration: float | None = None):
        properties = {
            "content_type": message.content_type or "application/json",
            "content_encoding": message.content_encoding or "utf-8",
        }
        message_id = message.properties.get("message_id")
        if message_id:
            properties["message_id"] = message_id
        self.producer().publish(
            message.body,
            exchange="",
            routing_key=routing_key,
            delivery_mode=2,
            headers={**(message.headers or {}), **headers},
            expiration=expiration,
            retry=True,
            **properties,
        )

    def retry(self, plain: str, message, attempt: int) -> None:
        self._republish(
            message,
            f"{self.topology.name(plain)}.retry",
            {"x-vinculo-attempt": attempt},
            expiration=self.delay_for(attempt),
        )
        message.ack()
        self.stats.retried += 1
        metrics.RETRIED.labels(plain).inc()

    def dead_letter(self, plain: str, message, reason: str, attempt: int) -> None:
        queue = self.topology.name(plain)
        log_event(log, "message dead-lettered", logging.WARNING, queue=queue, reason=reason)
        self._republish(
            message,
            f"{queue}.dlq",
            {
                "x-vinculo-reason": reason[:1000],
                "x-vinculo-queue": queue,
                "x-vinculo-routing-key": (message.delivery_info or {}).get("routing_key", ""),
                "x-vinculo-attempts": attempt + 1,
                "x-vinculo-failed-at": utcnow().isoformat(),
            },
        )
        message.ack()
        self.stats.dead_lettered += 1
        metrics.DEAD_LETTERED.labels(plain, metrics.dead_letter_cause(reason)).inc()
