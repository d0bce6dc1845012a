"""Publishing the mailer's events with message ids derived from the fact
(``delivery-<id>-sent``, ``consent-<entry>``), so that re-publishing after a
crash or a replay is dropped by consumers as a duplicate. A broker outage
keeps the envelope in the shared outbox; the worker's sweep relays it."""

from __future__ import annotations

import datetime
import logging

from pymongo.errors import DuplicateKeyError

from shared.logs import get_correlation_id
from shared.messaging.contracts import Envelope, Event
from shared.messaging.publisher import Outbox, OutboxMessage, Publisher

log = logging.getLogger(__name__)


class Events:
    def __init__(self, publisher: Publisher):
        self.publisher = publisher
        self.outbox = Outbox(publisher)

    def publish(self, event: Event, message_id: str, occurred_at: datetime.datetime | None = None) -> None:
        at = occurred_at or datetime.datetime.now(datetime.timezone.utc)
        if at.tzinfo is None:
            at = at.replace(tzinfo=datetime.timezone.utc)
        envelope = Envelope(message_id=message_id, type=event.type, schema_version=event.schema_version,
                            occurred_at=at.isoformat(), producer="mailer", payload=event.to_dict(),
                            correlation_id=get_correlation_id())
        try:
            self.publisher.publish_envelope(envelope)
        except Exception as exc:  # noqa: BLE001 - any broker failure: keep it for the relay
            log.warning("broker unavailable, %s %s kept in outbox: %s", envelope.type, message_id, exc)
            try:
                OutboxMessage(envelope=envelope.to_json(), message_id=message_id,
                              last_error=str(exc)[:500]).save(force_insert=True)
            except DuplicateKeyError:
                pass
            except Exception as store_exc:  # mongoengine wraps it
                if "duplicate" not in str(store_exc).lower():
                    raise

    def relay(self) -> int:
        return self.outbox.relay()


class BatchPublisher:
    """Publish many envelopes and wait for the broker's confirms once, not per message.

    kombu's ``confirm_publish`` waits for each confirm in turn (one round trip
    per event); a send batch announces hundreds of deliveries, so this puts
    its own channel in confirm mode, publishes them all, then waits until
    every delivery tag is acknowledged. Whatever is not confirmed (nack,
    lost connection, timeout) goes to the outbox: a message may then reach
    consumers twice, with the same id, which they drop.
    """

    def __init__(self, amqp_url: str, topology, fallback: Events):
        self.amqp_url = amqp_url
        self.topology = topology
        self.fallback = fallback
        self._connection = None
        self._channel = None
        self._acked = 0
        self._nacked = False

    def _ensure(self):
        if self._channel is None:
            from kombu import Connection

            self._connection = Connection(self.amqp_url, connect_timeout=5)
            self._connection.ensure_connection(max_retries=1)
            channel = self._connection.default_channel
            for service in ("segments", "campaigns", "mailer", "listener"):
                self.topology.exchange(service)(channel).declare()
            raw = self._connection.connection.channels[channel.channel_id]
            raw.confirm_select()
            raw.events["basic_ack"].add(self._on_ack)
            raw.events["basic_nack"].add(self._on_nack)
            self._channel, self._raw = channel, raw
            self._acked = 0
            self._published = 0
        return self._raw

    def _on_ack(self, delivery_tag, multiple):
        self._acked = max(self._acked, delivery_tag) if multiple else max(self._acked, delivery_tag)

    def _on_nack(self, delivery_tag, multiple):
        self._nacked = True

    def _reset(self):
        try:
            if self._connection is not None:
                self._connection.release()
        except Exception:  # noqa: BLE001 - already broken
            pass
        self._connection = self._channel = None

    def publish_many(self, items: list[tuple[Event, str]], timeout: float = 10.0) -> None:
        """``items``: (event, message id) pairs."""
        if not items:
            return
        import time

        import amqp

        envelopes = []
        for event, message_id in items:
            envelopes.append(Envelope(
                message_id=message_id, type=event.type, schema_version=event.schema_version,
                occurred_at=datetime.datetime.now(datetime.timezone.utc).isoformat(), producer="mailer",
                payload=event.to_dict(), correlation_id=get_correlation_id()))
        try:
            raw = self._ensure()
            self._nacked = False
            for envelope in envelopes:
                message = amqp.Message(envelope.to_json().encode(), content_type="application/json",
                                       content_encoding="utf-8", delivery_mode=2, message_id=envelope.message_id,
                                       type=envelope.type,
                                       application_headers={"correlation_id": envelope.correlation_id or ""})
                raw.basic_publish(message, exchange=self.topology.exchange_for(envelope.type).name,
                                  routing_key=envelope.type)
                self._published += 1
            deadline = time.monotonic() + timeout
            while self._acked < self._published and not self._nacked:
                if time.monotonic() > deadline:
                    raise TimeoutError("broker confirms did not arrive")
                self._connection.drain_events(timeout=max(0.01, deadline - time.monotonic()))
            if self._nacked:
                raise RuntimeError("the broker refused (nack) a message")
        except Exception as exc:  # noqa: BLE001 - keep them all for the relay; duplicates are dropped by id
            log.warning("batch publish failed (%s); %d events kept in the outbox", exc, len(envelopes))
            self._reset()
            for envelope in envelopes:
                try:
                    OutboxMessage(envelope=envelope.to_json(), message_id=envelope.message_id,
                                  last_error=str(exc)[:500]).save(force_insert=True)
                except Exception as store_exc:  # noqa: BLE001
                    if "duplicate" not in str(store_exc).lower() and not isinstance(store_exc, DuplicateKeyError):
                        raise

    def close(self) -> None:
        self._reset()
