"""The mailer's outbox intents and what the relay checks before it announces one
(``shared.messaging.outbox``: the intent is written before the state it announces;
the relay of the worker's idle task publishes a killed process's intent only for the
facts the store holds, with the ids the normal path uses):

* ``mailer.sweep`` (``announcing.SWEEP_KIND``): one sweep of deferred and abandoned
  deliveries, as the ids (and attempts) it claimed and its worker's id; its events are
  rebuilt from those deliveries that reached an outcome (sent, skipped, failed) under
  that claim, which only the sweep that held it can have written;
* ``mailer.bounce``: a bounce report's ``delivery.bounced`` (the delivery's
  ``bounced_at`` is the time this report set, ``since``) and ``contact.suppressed``
  (the address's hash, ``hash``, is on the suppression list); for a spam complaint also
  its consent revocation (``revoke``), which the process may have been killed before
  recording: once either of those writes is in the store, the resolver records it under
  the complaint's key (the one ledger entry, whether or not the process wrote it) and
  announces its ``consent.changed``;
* ``mailer.engagement`` (``engagement.ENGAGEMENT_KIND``): a first open or click, as the
  delivery, what and the time it sets; its event is rebuilt when the delivery's
  ``opened_at`` / ``clicked_at`` is that time.
"""

from __future__ import annotations

from bson import ObjectId

from services.mailer import consents, engagement
from services.mailer.announcing import SWEEP_KIND, outcome
from services.mailer.store import deliveries, suppression
from shared.messaging import outbox as outboxes
from shared.messaging.contracts import Envelope, envelope_for

PRODUCER = "mailer"
BOUNCE_KIND = "mailer.bounce"
COMPLAINT_NOTE = "spam complaint"


def swept(record: dict) -> list[Envelope]:
    """The events of a sweep's outcomes, as the sweep would have announced them."""
    attempts = {delivery_id: n for delivery_id, n in record.get("taken") or []}
    envelopes = []
    for doc in deliveries.outcomes_under(list(attempts), record["worker"]):
        event, message_id = outcome(doc, attempts[doc["_id"]])
        envelopes.append(envelope_for(event, PRODUCER, record.get("correlation_id"), message_id))
    return envelopes


def bounced(envelope: Envelope, record: dict) -> bool:
    if envelope.type == "delivery.bounced":
        doc = deliveries.engagement_of(ObjectId(envelope.payload["delivery_id"]), "bounced_at")
        return doc is not None and doc.get("bounced_at") == record.get("since")
    if envelope.type == "contact.suppressed":
        return bool(record.get("hash")) and bool(suppression.suppressed_among([record["hash"]]))
    return False


_checked_bounce = outboxes.checked(bounced)


def _complaint_written(record: dict, delivery_id) -> bool:
    """The complaint's writes are in the store: its address suppressed, or its delivery bounced
    at the report's time (a report killed before them revokes nothing, like it announces nothing)."""
    if record.get("hash") and suppression.suppressed_among([record["hash"]]):
        return True
    doc = deliveries.engagement_of(delivery_id, "bounced_at")
    return doc is not None and doc.get("bounced_at") == record.get("since")


def bounce(record: dict) -> list[Envelope]:
    """A report's events the store confirms, and a complaint's revocation once its writes are in."""
    envelopes = _checked_bounce(record)
    revoke = record.get("revoke")
    if revoke and _complaint_written(record, revoke["delivery_id"]):
        change = complaint_change(revoke)
        envelopes.append(
            consents.completed(**change, at=record["since"], correlation_id=record.get("correlation_id"))
        )
    return envelopes


def complaint_change(revoke: dict) -> dict:
    """The consent change a complaint's ``revoke`` record stands for, as the keyword arguments
    both ``consents.record_change`` (the report) and ``consents.completed`` (the relay) take:
    one spelling, so the two can never record different changes."""
    return {
        "customer_id": revoke["customer_id"],
        "channel": revoke["channel"],
        "topic": revoke["topic"],
        "status": "revoked",
        "source": "complaint",
        "idempotency_key": revoke["key"],
        "note": COMPLAINT_NOTE,
    }


def engaged(record: dict) -> list[Envelope]:
    """The open or click, when the delivery holds the time this one set."""
    what = record["what"]
    field = engagement.KINDS[what][0]
    doc = deliveries.engagement_of(record["delivery_id"], field)
    if doc is None or doc.get(field) != record["since"]:
        return []
    at, url, correlation_id = record["since"], record.get("url"), record.get("correlation_id")
    return [engagement.envelope(PRODUCER, doc, what, url, at, correlation_id)]


outboxes.register(SWEEP_KIND, PRODUCER, swept)
outboxes.register(BOUNCE_KIND, PRODUCER, bounce)
outboxes.register(engagement.ENGAGEMENT_KIND, PRODUCER, engaged)
