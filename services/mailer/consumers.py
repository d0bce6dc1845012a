"""Mailer worker: consumes send.requested and consent.imported (the consents of
import rows, recorded in the ledger); its idle hook sweeps deferred and
abandoned deliveries and relays the outbox."""

from __future__ import annotations

from services.mailer import consents
from services.mailer.events import Events, batch_publisher
from services.mailer.sender import Sender
from shared.messaging.consumer import Poison
from shared.messaging.publisher import Publisher
from shared.messaging.topology import Topology


def build_sender(settings, transports: dict | None = None) -> Sender:
    topology = Topology(settings.broker_namespace)
    events = Events(Publisher(settings.amqp_url, topology, "mailer"))
    return Sender(settings, events, transports, batch_publisher(settings.amqp_url, topology))


def handlers(sender: Sender) -> dict:
    def on_consent_imported(envelope) -> None:
        """An import row's consent statement: recorded in the ledger (owned here), or dead-lettered."""
        try:
            consents.record_imported(envelope.event(), events=sender.events)
        except consents.ConsentError as exc:
            raise Poison(str(exc)) from None

    return {"mailer.send.requested": sender.on_send_requested, "mailer.consent.imported": on_consent_imported}
