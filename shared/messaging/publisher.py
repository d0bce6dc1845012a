"""Publishing one event with publisher confirms: the transport under ``shared.messaging.outbox``.

``Publisher.publish_envelope(envelope)`` returns once RabbitMQ has confirmed
the message (or raises). Services publish through
``shared.messaging.outbox.Outbox``, not this.

The rest of what used to live here has a module of its own, and is still
importable from here (callers written against this path keep working):
``connect`` and ``release_quietly`` in ``shared.messaging.connection``;
``OutboxMessage`` and ``keep_in_outbox`` in ``shared.messaging.outbox_messages``;
``BatchPublisher``, ``Nacked`` and ``fewer_writes`` in
``shared.messaging.batch_publisher``.
"""

from __future__ import annotations

import threading

from kombu import Connection, Producer

from shared import metrics
from shared.logs import get_correlation_id
from shared.messaging.batch_publisher import BatchPublisher, Nacked, fewer_writes
from shared.messaging.connection import connect, release_quietly
from shared.messaging.contracts import Envelope, Event, envelope_for
from shared.messaging.outbox_messages import OutboxMessage, keep_in_outbox
from shared.messaging.topology import Topology

__all__ = [
    "RETRY_POLICY",
    "BatchPublisher",
    "Nacked",
    "OutboxMessage",
    "Publisher",
    "connect",
    "fewer_writes",
    "keep_in_outbox",
    "release_quietly",
]

RETRY_POLICY = {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2}


class Publisher:
    """Thread-safe; one per process. Declares the exchanges on first use."""

    def __init__(self, amqp_url: str, topology: Topology, producer_name: str):
        self.amqp_url = amqp_url
        self.topology = topology
        self.producer_name = producer_name
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._producer: Producer | None = None

    def _ensure(self) -> Producer:
        if self._producer is None:
            self._connection = connect(self.amqp_url)
            # Fail fast: a caller with an Outbox keeps the event and carries on.
            self._connection.ensure_connection(
                max_retries=1, interval_start=0.2, interval_step=0.3, interval_max=0.5
            )
            channel = self._connection.channel()
            for service in ("segments", "campaigns", "mailer", "listener"):
                self.topology.exchange(service)(channel).declare()
            self._producer = Producer(channel)
        return self._producer

    def _reset(self) -> None:
        release_quietly(self._connection)
        self._connection = None
        self._producer = None

    def publish_envelope(self, envelope: Envelope) -> None:
        exchange = self.topology.exchange_for(envelope.type)
        headers = {"correlation_id": envelope.correlation_id or ""}
        with self._lock:
            for attempt in (1, 2):
                try:
                    producer = self._ensure()
                    producer.publish(
                        envelope.to_json().encode(),
                        exchange=exchange,
                        routing_key=envelope.type,
                        content_type="application/json",
                        content_encoding="utf-8",
                        delivery_mode=2,
                        message_id=envelope.message_id,
                        type=envelope.type,
                        headers=headers,
                        retry=True,
                        retry_policy=RETRY_POLICY,
                    )
                    metrics.PUBLISHED.labels(envelope.type).inc()
                    return
                except Exception:
                    self._reset()
                    if attempt == 2:
                        raise

    def publish(self, event: Event, correlation_id: str | None = None) -> Envelope:
        envelope = envelope_for(event, self.producer_name, correlation_id or get_correlation_id())
        self.publish_envelope(envelope)
        return envelope

    def close(self) -> None:
        with self._lock:
            self._reset()
