"""Every exchange, routing key and queue, declared in one place.

One topic exchange per producing service (``segments.events``), the event
type as routing key (``customer.created``), queues named
``<consumer>.<event>``. Each work queue is a durable quorum queue with two
companions: ``<queue>.retry`` (delayed redelivery: messages wait there for
their per-message TTL, then dead-letter back into the queue) and
``<queue>.dlq`` (poison or exhausted messages, with the reason in headers).

``namespace`` prefixes every name so that test runs never meet each other
or production (``VINCULO_BROKER_NAMESPACE``). Declaring is idempotent;
changing a queue's arguments later needs a policy (RabbitMQ answers 406 to a
redeclare with other arguments).
"""

from __future__ import annotations

from dataclasses import dataclass

from kombu import Exchange, Queue

# event type -> producing service
PRODUCERS = {
    "customer.created": "segments",
    "customer.updated": "segments",
    "purchase.recorded": "segments",
    "segment.entered": "segments",
    "segment.left": "segments",
    "consent.imported": "segments",
    "customer.erased": "segments",
    "campaign.due": "campaigns",
    "send.requested": "campaigns",
    "delivery.sent": "mailer",
    "delivery.failed": "mailer",
    "delivery.skipped": "mailer",
    "delivery.bounced": "mailer",
    "delivery.opened": "mailer",
    "delivery.clicked": "mailer",
    "consent.changed": "mailer",
    "contact.suppressed": "mailer",
    "mention.received": "listener",
    "mention.corrected": "listener",
    "alert.raised": "listener",
}

# queue -> [(producing service, routing key pattern)]
QUEUES: dict[str, list[tuple[str, str]]] = {
    # mailer
    "mailer.send.requested": [("campaigns", "send.requested")],
    "mailer.consent.imported": [("segments", "consent.imported")],
    "mailer.customer.erased": [("segments", "customer.erased")],
    # campaigns
    "campaigns.campaign.due": [("campaigns", "campaign.due")],
    "campaigns.delivery": [("mailer", "delivery.*")],
    "campaigns.triggers": [
        ("segments", "customer.created"),
        ("segments", "segment.entered"),
        ("segments", "purchase.recorded"),
        ("listener", "mention.received"),
    ],
    "campaigns.consent": [("mailer", "consent.changed")],
    # segments: keep profile facts and memberships fresh
    "segments.facts": [
        ("listener", "mention.received"),
        ("listener", "mention.corrected"),
        ("mailer", "delivery.*"),
        ("mailer", "consent.changed"),
        ("mailer", "contact.suppressed"),
    ],
    "segments.membership": [
        ("segments", "customer.created"),
        ("segments", "customer.updated"),
        ("segments", "purchase.recorded"),
    ],
}

SERVICES = ("segments", "campaigns", "mailer", "listener")


def _topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: ``*`` is one word, ``#`` zero or more."""

    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and (p[0] == "*" or p[0] == k[0]) and match(p[1:], k[1:])

    return match(pattern.split("."), key.split("."))


def accepts(plain: str, event_type: str) -> bool:
    """Whether queue ``plain`` is bound to receive events of ``event_type`` (from their producer)."""
    producer = PRODUCERS.get(event_type)
    return any(
        service == producer and _topic_matches(key, event_type) for service, key in QUEUES.get(plain, [])
    )


@dataclass(frozen=True)
class Topology:
    namespace: str = ""

    def name(self, plain: str) -> str:
        return f"{self.namespace}{plain}"

    def exchange(self, service: str) -> Exchange:
        return Exchange(self.name(f"{service}.events"), type="topic", durable=True)

    def exchange_for(self, event_type: str) -> Exchange:
        try:
            return self.exchange(PRODUCERS[event_type])
        except KeyError:
            raise KeyError(f"no producer declared for event type {event_type!r}") from None

    def queue(self, plain: str) -> Queue:
        bindings = QUEUES[plain]
        name = self.name(plain)
        from kombu import binding

        return Queue(
            name,
            bindings=[binding(self.exchange(service), routing_key=key) for service, key in bindings],
            durable=True,
            queue_arguments={
                "x-queue-type": "quorum",
                # A reject without our reason still lands in the DLQ.
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": f"{name}.dlq",
            },
        )

    def retry_queue(self, plain: str) -> Queue:
        name = self.name(plain)
        return Queue(
            f"{name}.retry",
            durable=True,
            queue_arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": name},
        )

    def dead_letter_queue(self, plain: str) -> Queue:
        return Queue(f"{self.name(plain)}.dlq", durable=True)

    def declare(self, channel, queues: list[str] | None = None) -> None:
        """Declare exchanges and the given queues (all by default), idempotently."""
        for service in SERVICES:
            self.exchange(service)(channel).declare()
        for plain in QUEUES if queues is None else queues:
            for queue in (self.queue(plain), self.retry_queue(plain), self.dead_letter_queue(plain)):
                queue(channel).declare()

    def delete(self, channel) -> None:
        """Remove everything under this namespace (test teardown)."""
        if not self.namespace:
            raise RuntimeError("refusing to delete the un-namespaced (production) topology")
        for plain in QUEUES:
            for queue in (self.queue(plain), self.retry_queue(plain), self.dead_letter_queue(plain)):
                try:
                    queue(channel).delete()
                except Exception:  # noqa: BLE001 - best effort cleanup of test names
                    pass
        for service in SERVICES:
            try:
                self.exchange(service)(channel).delete()
            except Exception:  # noqa: BLE001
                pass
