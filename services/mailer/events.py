"""The mailer's outbox. Its events carry message ids derived from the fact
(``delivery-<id>-sent``, ``consent-<entry>``), so that re-publishing after a
crash or a replay is dropped by consumers as a duplicate. A broker outage
keeps the envelope in the shared outbox; the worker's sweep relays it
(``shared.messaging.outbox``)."""

from __future__ import annotations

from shared.messaging.outbox import Outbox
from shared.messaging.publisher import Publisher
from shared.messaging.topology import Topology

PRODUCER = "mailer"


def Events(publisher: Publisher) -> Outbox:
    """The mailer's outbox around ``publisher``: ``publish(event, message_id, occurred_at=)``,
    ``publish_many(items)`` (one wait for the confirms), ``relay()``."""
    return Outbox(publisher)


def batch_publisher(amqp_url: str, topology: Topology) -> Outbox:
    """A mailer outbox of its own connection (the sender's lists of delivery events)."""
    return Events(Publisher(amqp_url, topology, PRODUCER))
