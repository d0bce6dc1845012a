"""Publishing campaign events after the store write they announce.

Fan-out batches carry a deterministic message id (``<run>:<phase>:<batch>``),
so a batch re-published after a crash is the same message to every consumer
(the mailer's consumer drops a message id it has handled). When the broker is
down the envelope is kept in the shared ``outbox`` collection and relayed by
the worker's idle task, with the same id.
"""

from __future__ import annotations

import logging

import mongoengine as me
from pymongo.errors import DuplicateKeyError

from shared.logs import get_correlation_id
from shared.messaging.contracts import Envelope, Event, envelope_for
from shared.messaging.publisher import Outbox, OutboxMessage, Publisher
from shared.messaging.topology import Topology

log = logging.getLogger(__name__)


class Announcer:
    def __init__(self, amqp_url: str, namespace: str):
        self.publisher = Publisher(amqp_url, Topology(namespace), "campaigns")

    def publish(self, event: Event, message_id: str | None = None) -> Envelope:
        envelope = envelope_for(event, "campaigns", get_correlation_id(), message_id)
        try:
            self.publisher.publish_envelope(envelope)
        except Exception as exc:  # noqa: BLE001 - any broker failure: keep it for the relay
            log.warning(
                "broker unavailable, %s %s kept in outbox: %s", envelope.type, envelope.message_id, exc
            )
            try:
                OutboxMessage(
                    envelope=envelope.to_json(), message_id=envelope.message_id, last_error=str(exc)[:500]
                ).save()
            except (DuplicateKeyError, me.NotUniqueError):
                pass  # already kept by an earlier attempt
        return envelope

    def relay(self) -> int:
        return Outbox(self.publisher).relay()

    def close(self) -> None:
        self.publisher.close()
