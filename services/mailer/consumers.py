"""Mailer worker: consumes send.requested, consent.imported (the consents of
import rows, recorded in the ledger) and customer.erased (the erased contacts'
hashes, added to the suppression list the mailer owns); its idle hook sweeps deferred and
abandoned deliveries and relays the outbox."""

from __future__ import annotations

import mongoengine as me
from pymongo.errors import DuplicateKeyError

from services.mailer import consents
from services.mailer.events import Events, batch_publisher
from services.mailer.sender import Sender
from shared.messaging.consumer import Poison
from shared.messaging.contracts import CustomerErased, Envelope
from shared.messaging.publisher import Publisher
from shared.messaging.topology import Topology
from shared.models import SuppressedContact


def build_sender(settings, transports: dict | None = None) -> Sender:
    topology = Topology(settings.broker_namespace)
    events = Events(Publisher(settings.amqp_url, topology, "mailer"))
    return Sender(settings, events, transports, batch_publisher(settings.amqp_url, topology))


def on_customer_erased(envelope: Envelope) -> None:
    """An erased profile's contacts join the suppression list (idempotent: one row per hash)."""
    event: CustomerErased = envelope.event()
    for kind, digest in (("email", event.email_hash), ("phone", event.phone_hash)):
        if not digest:
            continue
        try:
            SuppressedContact(hash=digest, kind=kind, reason="erased").save(force_insert=True)
        except (me.NotUniqueError, DuplicateKeyError):
            pass  # already suppressed (bounce, complaint, an earlier delivery of this event)


def handlers(sender: Sender) -> dict:
    def on_consent_imported(envelope) -> None:
        """An import row's consent statement: recorded in the ledger (owned here), or dead-lettered."""
        try:
            consents.record_imported(envelope.event(), events=sender.events)
        except consents.ConsentError as exc:
            raise Poison(str(exc)) from None

    return {
        "mailer.send.requested": sender.on_send_requested,
        "mailer.consent.imported": on_consent_imported,
        "mailer.customer.erased": on_customer_erased,
    }
