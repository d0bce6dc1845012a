"""Publishing the mailer's events with message ids derived from the fact
(``delivery-<id>-sent``, ``consent-<entry>``), so that re-publishing after a
crash or a replay is dropped by consumers as a duplicate. A broker outage
keeps the envelope in the shared outbox; the worker's sweep relays it."""

from __future__ import annotations

import datetime
import logging

from shared.logs import get_correlation_id
from shared.messaging.contracts import Event, envelope_for
from shared.messaging.publisher import BatchPublisher, Outbox, Publisher, keep_in_outbox

log = logging.getLogger(__name__)


class Events:
    def __init__(self, publisher: Publisher):
        self.publisher = publisher
        self.outbox = Outbox(publisher)

    def publish(self, event: Event, message_id: str, occurred_at: datetime.datetime | None = None) -> None:
        envelope = envelope_for(
            event, "mailer", get_correlation_id(), message_id=message_id, occurred_at=occurred_at
        )
        try:
            self.publisher.publish_envelope(envelope)
        except Exception as exc:  # noqa: BLE001 - any broker failure: keep it for the relay
            log.warning("broker unavailable, %s %s kept in outbox: %s", envelope.type, message_id, exc)
            keep_in_outbox([envelope], exc)

    def relay(self) -> int:
        return self.outbox.relay()


def batch_publisher(amqp_url: str, topology) -> BatchPublisher:
    """The shared batch publisher for the mailer's events (confirms awaited once per
    list, the outbox for whatever is not confirmed)."""
    return BatchPublisher(amqp_url, topology, "mailer")
