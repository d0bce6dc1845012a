"""Publishing many envelopes with one wait for the broker's confirms.

``BatchPublisher.publish_envelopes(envelopes)`` sends a whole list on a
channel of its own in confirm mode and waits once for all the confirms;
whatever is not confirmed is kept in the ``outbox`` collection
(``keep_in_outbox``) for the relay. ``fewer_writes`` groups py-amqp's frames
into fewer socket writes while a batch is sent. Services publish through
``shared.messaging.outbox.Outbox``, not this.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager

from kombu import Connection

from shared import metrics
from shared.messaging.connection import release_quietly
from shared.messaging.contracts import Envelope
from shared.messaging.outbox_messages import keep_in_outbox
from shared.messaging.topology import SERVICES, Topology

log = logging.getLogger("shared.messaging.publisher")


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
