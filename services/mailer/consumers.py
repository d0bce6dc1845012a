"""Mailer worker: consumes send.requested; its idle hook sweeps deferred and
abandoned deliveries and relays the outbox."""

from __future__ import annotations

from shared.messaging.publisher import Publisher
from shared.messaging.topology import Topology

from services.mailer.events import Events
from services.mailer.sender import Sender


def build_sender(settings, transports: dict | None = None) -> Sender:
    publisher = Publisher(settings.amqp_url, Topology(settings.broker_namespace), "mailer")
    return Sender(settings, Events(publisher), transports)


def handlers(sender: Sender) -> dict:
    return {"mailer.send.requested": sender.on_send_requested}
