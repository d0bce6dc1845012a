"""The campaigns service's outbox: campaign events leave after the store write they announce.

Fan-out batches carry a deterministic message id (``<run>:<phase>:<batch>``),
so a batch re-published after a crash is the same message to every consumer
(the mailer's consumer drops a message id it has handled). When the broker is
down the envelope is kept in the shared ``outbox`` collection and relayed by
the worker's idle task, with the same id (``shared.messaging.outbox``).
"""

from __future__ import annotations

from shared.messaging.outbox import Outbox
from shared.messaging.topology import Topology

PRODUCER = "campaigns"


def Announcer(amqp_url: str, namespace: str) -> Outbox:
    """The campaigns outbox: ``publish(event, message_id=None)``, ``relay()``, ``close()``."""
    return Outbox.connect(amqp_url, Topology(namespace), PRODUCER)
