"""Announcing stored mentions: mention.received after the write, in batches.

Events are published after the store write (pipeline.py keeps a pending
record per batch so a crash in between is announced later by its sweep).
The message id is derived from the mention id, so a mention announced twice
carries the same id and consumers drop the copy. A batch goes out through
the shared BatchPublisher: published in full, then one wait for the broker's
confirms (not a round trip per message). If the broker is down the
envelopes go to the shared Outbox collection and the poller relays them
later.
"""

from __future__ import annotations

import logging
import uuid

from shared.messaging.contracts import Event
from shared.messaging.publisher import BatchPublisher as SharedBatchPublisher
from shared.messaging.publisher import Outbox, Publisher
from shared.messaging.topology import Topology

log = logging.getLogger(__name__)
PRODUCER = "listener"
_NAMESPACE = uuid.UUID("6f1c7d8e-3f2a-4b1c-9d0e-2a7b5c4d3e10")


def message_id_for(kind: str, ident: str) -> str:
    """The same id every time the same fact is announced."""
    return uuid.uuid5(_NAMESPACE, f"{kind}:{ident}").hex


class BatchPublisher(SharedBatchPublisher):
    """The shared batch publisher (a list goes out with one wait for the
    broker's confirms; what is not confirmed is kept in the outbox), with the
    listener's envelopes and the outbox relay its poller runs."""

    def __init__(self, amqp_url: str, topology: Topology):
        super().__init__(amqp_url, topology, PRODUCER)
        self.publisher = Publisher(amqp_url, topology, PRODUCER)  # for the outbox relay
        self.outbox = Outbox(self.publisher)

    def publish(self, event: Event, message_id: str) -> bool:
        """True when the broker took it; else it is kept in the outbox (False)."""
        return self.publish_events([(event, message_id, None)])

    def relay(self) -> int:
        return self.outbox.relay()

    def close(self) -> None:
        super().close()
        self.publisher.close()
