"""Mailer worker: consumes send.requested; its idle hook sweeps deferred and
abandoned deliveries and relays the outbox."""

from __future__ import annotations

from shared.messaging.publisher import Publisher
from shared.messaging.topology import Topology

from services.mailer.events import Events, batch_publisher
from services.mailer.sender import Sender


def build_sender(settings, transports: dict | None = None) -> Sender:
    topology = Topology(settings.broker_namespace)
    events = Events(Publisher(settings.amqp_url, topology, "mailer"))
    return Sender(settings, events, transports, batch_publisher(settings.amqp_url, topology))


def handlers(sender: Sender) -> dict:
    return {"mailer.send.requested": sender.on_send_requested}
