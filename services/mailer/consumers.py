"""Mailer worker: consumes send.requested, consent.imported (the consents of
import rows, recorded in the ledger) and customer.erased (the erased contacts'
hashes, added to the suppression list the mailer owns, and the customer's personal data
taken out of the mailer's collections: ``erasure``); its idle hook sweeps deferred and
abandoned deliveries and relays the outbox."""

from __future__ import annotations

from bson import ObjectId
from bson.errors import InvalidId

from services.mailer import consents, erasure
from services.mailer.sender import Sender
from shared.messaging.consumer import Poison
from shared.messaging.contracts import CustomerErased, Envelope


def on_customer_erased(envelope: Envelope) -> None:
    """An erased profile's contacts join the suppression list and its personal data leaves the
    mailer's collections (idempotent: a redelivery changes nothing)."""
    event: CustomerErased = envelope.event()
    try:
        customer_id = ObjectId(event.customer_id)
    except (InvalidId, TypeError):
        raise Poison(f"customer_id: not an id: {event.customer_id!r}") from None
    erasure.forget(customer_id, {"email": event.email_hash, "phone": event.phone_hash})


def handlers(sender: Sender) -> dict:
    """The worker's handlers, around the sender its bootstrap built."""

    def on_consent_imported(envelope) -> None:
        """An import row's consent statement: recorded in the ledger (owned here), or dead-lettered."""
        try:
            consents.record_imported(envelope.event(), events=sender.events)
        except consents.ConsentError as exc:
            raise Poison(f"{exc.field}: {exc.message}") from None

    return {
        "mailer.send.requested": sender.on_send_requested,
        "mailer.consent.imported": on_consent_imported,
        "mailer.customer.erased": on_customer_erased,
    }
