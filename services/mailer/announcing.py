"""What the sender announces about deliveries: ``delivery.skipped``, ``delivery.failed``
and ``delivery.sent`` (through the outbox, with ids derived from the fact, so a
repeat is dropped by consumers). The customer's timeline (``message_sent``) is
segments' to write, from ``delivery.sent``.

A crash between a delivery's write and its announcement loses nothing:

* on the ``send.requested`` path the batch is acked only after its events went out, so
  a killed worker's batch comes again and announces its deliveries that are already
  ``sent``, ``skipped`` or ``failed`` again (``_reannounce``, ``_announce_skipped``,
  ``_reannounce_failed``; the same ids);
* the sweep (deferred and abandoned deliveries: no message comes again) holds its
  events and announces them through one outbox intent written once its claims are
  taken (``_announced_together``); the relay rebuilds a killed sweep's events from the
  deliveries it claimed that reached an outcome under its claim (``services.mailer.intents``).

``Announcing`` is a part of ``sender.Sender``: it uses the sender's ``events``
(one event at a time), ``batch_publisher`` (lists of events, one confirm wait),
``_unannounced`` (recorded sends not yet announced) and ``_held`` (the sweep's events).
"""

from __future__ import annotations

import contextlib
import datetime

from shared import faults
from shared.logs import get_correlation_id
from shared.messaging.contracts import DeliveryFailed, DeliverySent, DeliverySkipped, envelope_for
from shared.store import utcnow

SWEEP_KIND = "mailer.sweep"  # the outbox intent of one sweep (services.mailer.intents resolves it)


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


def sent(doc: dict) -> tuple:
    return (
        delivery_event(
            DeliverySent, doc, reason=None, code=None, sent_at=_iso(doc.get("sent_at") or utcnow())
        ),
        f"delivery-{doc['_id']}-sent",
    )


def skipped(doc: dict) -> tuple:
    return (
        delivery_event(DeliverySkipped, doc, reason=doc.get("reason"), code=doc.get("code")),
        f"delivery-{doc['_id']}-skipped",
    )


def failed(doc: dict, attempts: int, reason: str | None, code: str | None) -> tuple:
    """``attempts``: the delivery's attempts when it was claimed (a resend's failure is a new fact)."""
    return (
        delivery_event(DeliveryFailed, doc, reason=reason, code=code),
        f"delivery-{doc['_id']}-failed-{attempts}",
    )


def failed_attempts(doc: dict) -> int:
    """The attempts a stored failed delivery had when claimed: its failure counted one more, but
    for an abandoned claim given up (``abandoned``), whose take-over counted it already."""
    return doc.get("attempts", 0) - (0 if doc.get("code") == "abandoned" else 1)


def outcome(doc: dict, attempts: int) -> tuple | None:
    """(event, message id) of a stored delivery's outcome, the normal path's; None when it has none."""
    if doc["status"] == "sent":
        return sent(doc)
    if doc["status"] == "skipped":
        return skipped(doc)
    if doc["status"] == "failed":
        return failed(doc, attempts, doc.get("reason"), doc.get("code"))
    return None


class Announcing:
    def _publish(self, items: list[tuple]) -> None:
        """(event, message id) pairs: held by a sweep, else published (a list in one confirm wait)."""
        if not items:
            return
        if self._held is not None:
            self._held.extend(items)
            return
        faults.point("after_write")  # the deliveries written, not announced: the batch comes again
        if self.batch_publisher is not None and len(items) > 1:
            self.batch_publisher.publish_many([(event, message_id, None) for event, message_id in items])
        else:
            for event, message_id in items:
                self.events.publish(event, message_id=message_id)

    def _announce_skipped(self, docs: list[dict]) -> None:
        """delivery.skipped for each delivery a rule stopped, with its code: a campaign counts it
        as done (not sent, and why) rather than waiting for it."""
        self._publish([skipped(doc) for doc in docs])

    def _announce_sent(self) -> None:
        """Publish delivery.sent for recorded sends, with the time the provider took each.

        Deferred from _finalize to keep the per-message path to one store write. If the
        worker dies before publishing, a redelivered batch announces its sent deliveries
        again (``_reannounce``; same message ids, so consumers drop a repeat).
        """
        docs, self._unannounced = self._unannounced, []
        self._publish([sent(doc) for doc in docs])

    def _reannounce(self, docs: list[dict]) -> None:
        """Sent deliveries of a redelivered batch, whose announcement a crash may have cut short:
        announced again, all of them (the mailer keeps no record of what was published; the
        same message ids, so consumers drop the repeats)."""
        if not docs:
            return
        self._unannounced.extend(docs)
        self._announce_sent()

    def _reannounce_failed(self, docs: list[dict]) -> None:
        """Failed deliveries of a redelivered batch, announced again like its sent ones."""
        self._publish([failed(doc, failed_attempts(doc), doc.get("reason"), doc.get("code")) for doc in docs])

    def _announce_failed(self, doc: dict, reason: str, code: str) -> None:
        self._publish([failed(doc, doc.get("attempts", 0), reason, code)])

    @contextlib.contextmanager
    def _announced_together(self, taken: list[dict]):
        """The events of the work on ``taken`` (claimed deliveries), held and announced at the
        end through one intent written now: a crash before the announcement leaves them to the
        relay. If the work fails, what it held is published and the intent stays for the relay."""
        outbox = self.batch_publisher or self.events
        correlation_id = get_correlation_id()
        intent = self.events.record(
            SWEEP_KIND,
            worker=self.worker_id,
            taken=[[doc["_id"], doc.get("attempts", 0)] for doc in taken],
            correlation_id=correlation_id,
        )
        held = self._held = []
        self._sweep_intent = intent  # kept due later while the sweep renews its claims

        def envelopes() -> list:
            producer = self.events.producer
            return [envelope_for(event, producer, correlation_id, mid) for event, mid in held]

        try:
            yield
        except Exception:
            self._held = self._sweep_intent = None
            outbox.publish_envelopes(envelopes())
            raise
        self._held = self._sweep_intent = None
        outbox.announce(intent, envelopes())
