"""Announcing stored mentions: mention.received after the write, in batches.

Events are published after the store write (pipeline.py keeps a pending
record per batch so a crash in between is announced later by its sweep).
The message id is derived from the mention id, so a mention announced twice
carries the same id and consumers drop the copy. A batch goes out in one
AMQP transaction (tx.select / tx.commit: the broker has taken all of it
when commit returns) rather than waiting for a confirm per message. If the
broker is down the envelopes go to the shared Outbox collection and the
poller relays them later.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid

from kombu import Connection, Producer
from pymongo.errors import BulkWriteError

from shared.messaging.contracts import Envelope, Event, envelope_for
from shared.messaging.publisher import Outbox, OutboxMessage, Publisher
from shared.messaging.topology import SERVICES, Topology
from shared.logs import get_correlation_id
from shared.store import utcnow

log = logging.getLogger(__name__)
PRODUCER = "listener"
_NAMESPACE = uuid.UUID("6f1c7d8e-3f2a-4b1c-9d0e-2a7b5c4d3e10")


def message_id_for(kind: str, ident: str) -> str:
    """The same id every time the same fact is announced."""
    return uuid.uuid5(_NAMESPACE, f"{kind}:{ident}").hex


class _Shallow:
    """Looks like the event to envelope_for, with a cheap to_dict."""

    __slots__ = ("event",)

    def __init__(self, event: Event):
        self.event = event

    @property
    def type(self):
        return self.event.type

    @property
    def schema_version(self):
        return self.event.schema_version

    def to_dict(self) -> dict:
        return {f.name: getattr(self.event, f.name) for f in dataclasses.fields(self.event)}


class BatchPublisher:
    """Publish many envelopes in one broker transaction; thread-safe."""

    def __init__(self, amqp_url: str, topology: Topology):
        self.amqp_url = amqp_url
        self.topology = topology
        self.publisher = Publisher(amqp_url, topology, PRODUCER)  # for the outbox relay
        self.outbox = Outbox(self.publisher)
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._channel = None
        self._producer: Producer | None = None

    def _ensure(self):
        if self._producer is None:
            self._connection = Connection(self.amqp_url, connect_timeout=5)
            self._connection.ensure_connection(max_retries=1, interval_start=0.2, interval_step=0.3,
                                               interval_max=0.5)
            self._channel = self._connection.channel()
            for service in SERVICES:
                self.topology.exchange(service)(self._channel).declare()
            self._channel.tx_select()
            self._producer = Producer(self._channel)
        return self._producer

    def _reset(self):
        try:
            if self._connection is not None:
                self._connection.release()
        except Exception:  # noqa: BLE001 - already broken
            pass
        self._connection = self._channel = self._producer = None

    def envelope(self, event: Event, message_id: str) -> Envelope:
        """envelope_for, with a shallow payload copy: our events hold only scalars, and
        dataclasses.asdict's deep copy was a tenth of the pipeline's time."""
        envelope = envelope_for(_Shallow(event), PRODUCER, get_correlation_id(), message_id=message_id)
        return envelope

    def publish_all(self, envelopes: list[Envelope]) -> bool:
        """True when the broker took them all; else they are kept in the outbox (False)."""
        if not envelopes:
            return True
        with self._lock:
            for attempt in (1, 2):
                try:
                    producer = self._ensure()
                    for envelope in envelopes:
                        producer.publish(
                            envelope.to_json().encode(), exchange=self.topology.exchange_for(envelope.type),
                            routing_key=envelope.type, content_type="application/json",
                            content_encoding="utf-8", delivery_mode=2, message_id=envelope.message_id,
                            type=envelope.type, headers={"correlation_id": envelope.correlation_id or ""},
                            declare=[], retry=False)
                    self._channel.tx_commit()
                    return True
                except Exception as exc:  # noqa: BLE001 - retry once on a fresh connection, then outbox
                    self._reset()
                    if attempt == 2:
                        log.warning("broker unavailable, %d events kept in the outbox: %s", len(envelopes), exc)
        self.keep(envelopes)
        return False

    def keep(self, envelopes: list[Envelope]) -> None:
        collection = OutboxMessage._get_collection()
        try:
            collection.insert_many([{"envelope": e.to_json(), "message_id": e.message_id, "attempts": 0,
                                     "created_at": utcnow()}
                                    for e in envelopes], ordered=False)
        except BulkWriteError:
            pass  # already kept (same message id)

    def relay(self) -> int:
        return self.outbox.relay()

    def publish(self, event: Event, message_id: str) -> bool:
        return self.publish_all([self.envelope(event, message_id)])

    def close(self) -> None:
        with self._lock:
            self._reset()
        self.publisher.close()
