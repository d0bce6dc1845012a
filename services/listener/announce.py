"""The message ids of the listener's announcements, and its outbox for callers outside
the service.

The message id is derived from the fact (``message_id_for``), so a mention
announced twice carries the same id and consumers drop the copy. Lists go out
with one wait for the broker's confirms (``Outbox.publish_many``), not a round
trip per message; what the broker does not take is kept in the shared outbox
and the poller's housekeeping relays it (``shared.messaging.outbox``).

The service's parts publish through the one outbox of their process
(``bootstrap.build(settings).outbox``, producer ``PRODUCER``).
``BatchPublisher`` opens the same kind of outbox from a broker URL and a
topology, for code outside the service that runs the pipeline on its own (tests,
the demo data, benches).
"""

from __future__ import annotations

import uuid

from shared.messaging.outbox import Outbox
from shared.messaging.topology import Topology

PRODUCER = "listener"
_NAMESPACE = uuid.UUID("6f1c7d8e-3f2a-4b1c-9d0e-2a7b5c4d3e10")


def message_id_for(kind: str, ident: str) -> str:
    """The same id every time the same fact is announced."""
    return uuid.uuid5(_NAMESPACE, f"{kind}:{ident}").hex


def BatchPublisher(amqp_url: str, topology: Topology) -> Outbox:
    """An outbox of the listener's producer (what ``ListenerParts.outbox`` opens from settings)."""
    return Outbox.connect(amqp_url, topology, PRODUCER)
