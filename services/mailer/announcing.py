"""What the sender announces about deliveries: ``delivery.skipped``, ``delivery.failed``
and ``delivery.sent`` (through the outbox, with ids derived from the fact, so a
repeat is dropped by consumers). The customer's timeline (``message_sent``) is
segments' to write, from ``delivery.sent``.

``Announcing`` is a part of ``sender.Sender``: it uses the sender's ``events``
(one event at a time), ``batch_publisher`` (lists of events, one confirm wait)
and ``_unannounced`` (recorded sends not yet announced).
"""

from __future__ import annotations

import datetime

from shared.messaging.contracts import DeliverySent, DeliverySkipped
from shared.store import utcnow


def delivery_event(cls, doc: dict, **fields):
    """A ``delivery.*`` event of the stored delivery ``doc`` (every kind names the same delivery,
    campaign, person, channel, step and variant), with the kind's own ``fields``."""
    return cls(
        delivery_id=str(doc["_id"]),
        campaign_id=doc["campaign_id"],
        customer_id=str(doc["customer_id"]),
        channel=doc["channel"],
        step=doc["step"],
        variant=doc.get("variant"),
        **fields,
    )


ANNOUNCE_EVERY = 200  # recorded sends published (delivery.sent) together


def _iso(at: datetime.datetime) -> str:
    return at.replace(tzinfo=datetime.UTC).isoformat()


class Announcing:
    def _announce_skipped(self, docs: list[dict]) -> None:
        """delivery.skipped for each delivery a rule stopped, with its code: a campaign counts it
        as done (not sent, and why) rather than waiting for it."""
        if not docs:
            return
        items = [
            (
                delivery_event(DeliverySkipped, doc, reason=doc.get("reason"), code=doc.get("code")),
                f"delivery-{doc['_id']}-skipped",
                None,
            )
            for doc in docs
        ]
        if self.batch_publisher is not None:
            self.batch_publisher.publish_many(items)
        else:
            for event, message_id, _ in items:
                self.events.publish(event, message_id=message_id)

    def _announce_sent(self) -> None:
        """Publish delivery.sent for recorded sends, with the time the provider took each.

        Deferred from _finalize to keep the per-message path to one store write. If the
        worker dies before publishing, a redelivered batch announces its sent deliveries
        again (``_reannounce``; same message ids, so consumers drop a repeat).
        """
        docs, self._unannounced = self._unannounced, []
        if not docs:
            return
        items = [
            (
                delivery_event(
                    DeliverySent, doc, reason=None, code=None, sent_at=_iso(doc.get("sent_at") or utcnow())
                ),
                f"delivery-{doc['_id']}-sent",
            )
            for doc in docs
        ]
        if self.batch_publisher is not None:
            self.batch_publisher.publish_many([(event, message_id, None) for event, message_id in items])
        else:
            for event, message_id in items:
                self.events.publish(event, message_id=message_id)

    def _reannounce(self, sent: list[dict]) -> None:
        """Sent deliveries of a redelivered batch, whose announcement a crash may have cut short:
        announced again, all of them (the mailer keeps no record of what was published; the
        same message ids, so consumers drop the repeats)."""
        if not sent:
            return
        self._unannounced.extend(sent)
        self._announce_sent()

    def _announce(
        self, cls, doc: dict, what: str, reason: str | None = None, code: str | None = None
    ) -> None:
        self.events.publish(
            delivery_event(cls, doc, reason=reason, code=code), message_id=f"delivery-{doc['_id']}-{what}"
        )
