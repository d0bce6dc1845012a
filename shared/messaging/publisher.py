"""Publishing with publisher confirms, after the store write it announces.

``Publisher.publish(event)`` returns once RabbitMQ has confirmed the message
(or raises). ``Outbox.publish(event)`` never loses an event: if the broker
cannot take it now, the envelope is stored in the ``outbox`` collection and
``Outbox.relay()`` (run by each worker on a timer) sends it later with the
same message id, which consumers use to drop duplicates.
"""

from __future__ import annotations

import logging
import threading

import mongoengine as me
from kombu import Connection, Producer

from shared import metrics
from shared.logs import get_correlation_id
from shared.messaging.contracts import Envelope, Event, envelope_for
from shared.messaging.topology import Topology
from shared.store import utcnow

log = logging.getLogger(__name__)

RETRY_POLICY = {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2}


def connect(amqp_url: str) -> Connection:
    """A broker connection whose channels wait for publisher confirms."""
    return Connection(amqp_url, transport_options={"confirm_publish": True},
                      connect_timeout=5)


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
            self._connection.ensure_connection(max_retries=1, interval_start=0.2, interval_step=0.3,
                                               interval_max=0.5)
            channel = self._connection.channel()
            for service in ("segments", "campaigns", "mailer", "listener"):
                self.topology.exchange(service)(channel).declare()
            self._producer = Producer(channel)
        return self._producer

    def _reset(self) -> None:
        try:
            if self._connection is not None:
                self._connection.release()
        except Exception:  # noqa: BLE001 - the connection is already broken
            pass
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
                        envelope.to_json().encode(), exchange=exchange, routing_key=envelope.type,
                        content_type="application/json", content_encoding="utf-8",
                        delivery_mode=2, message_id=envelope.message_id, type=envelope.type,
                        headers=headers, retry=True, retry_policy=RETRY_POLICY,
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


class OutboxMessage(me.Document):
    envelope = me.StringField(required=True)
    message_id = me.StringField(required=True)
    created_at = me.DateTimeField(default=utcnow)
    attempts = me.IntField(default=0)
    last_error = me.StringField()

    meta = {"collection": "outbox", "indexes": [{"fields": ["message_id"], "unique": True}, "created_at"]}


class Outbox:
    """Publish now, or keep the envelope in the store and relay it later."""

    def __init__(self, publisher: Publisher):
        self.publisher = publisher

    def publish(self, event: Event, correlation_id: str | None = None) -> Envelope:
        envelope = envelope_for(event, self.publisher.producer_name,
                                correlation_id or get_correlation_id())
        try:
            self.publisher.publish_envelope(envelope)
        except Exception as exc:  # noqa: BLE001 - any broker failure: keep it for the relay
            log.warning("broker unavailable, %s %s kept in outbox: %s", envelope.type,
                        envelope.message_id, exc)
            OutboxMessage(envelope=envelope.to_json(), message_id=envelope.message_id,
                          last_error=str(exc)[:500]).save()
            metrics.OUTBOXED.labels(envelope.type).inc()
        return envelope

    def relay(self, limit: int = 500) -> int:
        """Send stored envelopes, oldest first; returns how many went out."""
        from shared.messaging.contracts import parse_envelope

        sent = 0
        for stored in OutboxMessage.objects.order_by("created_at").limit(limit):
            try:
                self.publisher.publish_envelope(parse_envelope(stored.envelope))
            except Exception as exc:  # noqa: BLE001 - still down: try next time
                OutboxMessage.objects(id=stored.id).update_one(inc__attempts=1, set__last_error=str(exc)[:500])
                break
            stored.delete()
            sent += 1
        return sent
