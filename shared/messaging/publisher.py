"""Publishing with publisher confirms: the transport under ``shared.messaging.outbox``.

``Publisher.publish_envelope(envelope)`` returns once RabbitMQ has confirmed
the message (or raises). ``BatchPublisher.publish_envelopes(envelopes)`` sends
many and waits for the broker's confirms once for all of them; whatever is not
confirmed is kept in the ``outbox`` collection (``keep_in_outbox``) for the
relay. Services publish through ``shared.messaging.outbox.Outbox``, not these.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager

import mongoengine as me
from kombu import Connection, Producer
from pymongo.errors import DuplicateKeyError

from shared import metrics
from shared.logs import get_correlation_id
from shared.messaging.contracts import Envelope, Event, envelope_for
from shared.messaging.topology import SERVICES, Topology
from shared.store import utcnow

log = logging.getLogger(__name__)

RETRY_POLICY = {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2}


def connect(amqp_url: str) -> Connection:
    """A broker connection whose channels wait for publisher confirms."""
    return Connection(amqp_url, transport_options={"confirm_publish": True}, connect_timeout=5)


def release_quietly(connection: Connection | None) -> None:
    """Release a broker connection that may already be broken."""
    if connection is None:
        return
    try:
        connection.release()
    except Exception:  # noqa: BLE001 - the connection is already broken
        pass


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


class OutboxMessage(me.Document):
    envelope = me.StringField(required=True)
    message_id = me.StringField(required=True)
    created_at = me.DateTimeField(default=utcnow)
    attempts = me.IntField(default=0)
    last_error = me.StringField()

    meta = {"collection": "outbox", "indexes": [{"fields": ["message_id"], "unique": True}, "created_at"]}


def keep_in_outbox(envelopes: list[Envelope], error: Exception) -> None:
    """Store envelopes for ``Outbox.relay``; one already stored (same id) is fine."""
    for envelope in envelopes:
        try:
            OutboxMessage(
                envelope=envelope.to_json(), message_id=envelope.message_id, last_error=str(error)[:500]
            ).save(force_insert=True)
        except (me.NotUniqueError, DuplicateKeyError):
            continue
        metrics.OUTBOXED.labels(envelope.type).inc()


@contextmanager
def fewer_writes(transport, flush_at: int = 32 * 1024):
    """The frames py-amqp writes inside the block leave in writes of about ``flush_at`` bytes.

    py-amqp sends each published message with a ``sendall`` of its own: a
    system call and, on the broker's side, a read per message. A batch of 500
    events then costs 500 writes. Inside the block ``transport._write``
    (py-amqp's raw send; amqp is pinned in requirements.txt for it) keeps
    copies of the frames (py-amqp reuses its frame buffer) and sends them
    every ``flush_at`` bytes: fewer writes, and the broker still works on
    the first messages while later ones are made (one write at the end was
    slower). What was kept is written even when the block fails, so the
    channel's delivery tags stay in step with what the broker got.
    """
    chunks: list[bytes] = []
    size = 0
    own = "_write" in vars(transport)
    send = transport._write

    def keep(data) -> None:
        nonlocal size
        chunks.append(bytes(data))
        size += len(data)
        if size >= flush_at:
            flush()

    def flush() -> None:
        nonlocal size
        if chunks:
            data = b"".join(chunks)
            chunks.clear()
            size = 0
            send(data)

    transport._write = keep
    try:
        yield
    finally:
        if own:
            transport._write = send
        else:
            del transport._write
        flush()


class Nacked(RuntimeError):
    """The broker refused a message (a nack): not worth a second try now."""


class BatchPublisher:
    """Publish many envelopes and wait for the broker's confirms once; thread-safe.

    ``Publisher`` waits for each confirm in turn (a round trip per event).
    This keeps a channel of its own in confirm mode, publishes a whole list,
    then waits until every delivery tag is confirmed. Whatever is not (nack,
    lost connection, timeout) is kept in the outbox for the relay: a message
    may then reach consumers twice, with the same id, which they drop.
    """

    def __init__(self, amqp_url: str, topology: Topology, producer_name: str, confirm_timeout: float = 10.0):
        self.amqp_url = amqp_url
        self.topology = topology
        self.producer_name = producer_name
        self.confirm_timeout = confirm_timeout
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._raw = None
        self._next_tag = 1
        self._unconfirmed: set[int] = set()
        self._nacked = False

    def _ensure(self):
        if self._raw is None:
            # No confirm_publish here: kombu would wait per message; we wait ourselves.
            self._connection = Connection(self.amqp_url, connect_timeout=5)
            self._connection.ensure_connection(
                max_retries=1, interval_start=0.2, interval_step=0.3, interval_max=0.5
            )
            channel = self._connection.default_channel
            for service in SERVICES:
                self.topology.exchange(service)(channel).declare()
            raw = self._connection.connection.channels[channel.channel_id]
            raw.confirm_select()
            raw.events["basic_ack"].add(self._on_ack)
            raw.events["basic_nack"].add(self._on_nack)
            self._raw, self._next_tag, self._unconfirmed = raw, 1, set()
        return self._raw

    def _on_ack(self, delivery_tag, multiple):
        if multiple:
            self._unconfirmed = {tag for tag in self._unconfirmed if tag > delivery_tag}
        else:
            self._unconfirmed.discard(delivery_tag)

    def _on_nack(self, delivery_tag, multiple):
        self._nacked = True
        self._on_ack(delivery_tag, multiple)

    def _reset(self) -> None:
        release_quietly(self._connection)
        self._connection = self._raw = None

    def publish_envelopes(self, envelopes: list[Envelope]) -> bool:
        """Returns once the broker has confirmed them all (True), or they are in the outbox (False).

        A connection that broke since the last call (a broker restart) is
        replaced once before giving up; a copy published twice that way
        carries the same message id, which consumers drop.
        """
        if not envelopes:
            return True
        with self._lock:
            for attempt in (1, 2):
                try:
                    self._publish_confirmed(envelopes)
                    return True
                except Exception as exc:  # noqa: BLE001 - keep them all; consumers drop copies by id
                    self._reset()
                    if attempt == 1 and not isinstance(exc, (TimeoutError, Nacked)):
                        continue
                    log.warning(
                        "batch publish failed (%s); %d events kept in the outbox", exc, len(envelopes)
                    )
                    keep_in_outbox(envelopes, exc)
                    return False
        return False

    def _publish_confirmed(self, envelopes: list[Envelope]) -> None:
        import amqp

        raw = self._ensure()
        self._nacked = False
        with fewer_writes(raw.connection.transport):
            for envelope in envelopes:
                message = amqp.Message(
                    envelope.to_json().encode(),
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=2,
                    message_id=envelope.message_id,
                    type=envelope.type,
                    application_headers={"correlation_id": envelope.correlation_id or ""},
                )
                self._unconfirmed.add(self._next_tag)
                self._next_tag += 1
                raw.basic_publish(
                    message,
                    exchange=self.topology.exchange_for(envelope.type).name,
                    routing_key=envelope.type,
                )
        deadline = time.monotonic() + self.confirm_timeout
        while self._unconfirmed and not self._nacked:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("broker confirms did not arrive")
            try:
                self._connection.drain_events(timeout=left)
            except TimeoutError:
                continue
        if self._nacked:
            raise Nacked("the broker refused (nack) a message")
        for envelope in envelopes:
            metrics.PUBLISHED.labels(envelope.type).inc()

    def close(self) -> None:
        with self._lock:
            self._reset()
