"""The one way an event leaves a service: recorded with (or before) the state it announces.

Every service builds one ``Outbox`` per process (``Outbox.connect(url,
topology, producer)``, or around a ``Publisher``) and publishes through it:

* ``publish(event, message_id=None, correlation_id=None, occurred_at=None)``:
  one event, the broker's confirm awaited; ``publish_many(items)`` a list of
  ``(event, message id, correlation id)`` with one wait for all the confirms
  (``BatchPublisher``). The caller's message id is kept (consumers drop a
  message id they have handled: a fact announced twice reaches them once); none
  means a new one. Whatever the broker cannot take now is kept in the
  ``outbox`` collection (``OutboxMessage``) and relayed later, same id.

* A fact that must not be lost to a crash between its store write and its
  publish is announced through an **intent**, written *before* the state::

      intent = outbox.intend(event)          # or outbox.record(kind, envelopes, **data)
      ... the store write ...
      outbox.announce(intent)                # publish, then delete the intent

  The intent (collection ``outbox_intents``: ``kind``, ``at``, the envelopes
  with their final message ids, and whatever the kind needs) is due after a
  grace period (``GRACE``, longer than any write; a longer piece of work calls
  ``keep(intent)`` as it goes, as the mailer's sweep does when it renews claims). The relay (``relay()``, run
  by each service's worker or poller idle task, as before) takes a due intent
  of its own producer (moving its time forward, so another replica passes it
  by) and asks the **resolver registered for its kind** which of its events
  are facts in the store; those are published, with the ids the intent holds,
  and the intent is deleted. An intent whose state write never happened (the
  process died before it, or the write failed) resolves to nothing: the relay
  never announces a fact that is not in the store. A process killed after the
  write and before the publish leaves an intent that resolves to its event:
  published once by the relay, or twice with one id if the publish had in fact
  gone out (consumers drop the copy).

  Resolvers are registered by the service that owns the state
  (``register(kind, producer, resolve)``); ``checked(check)`` makes one from a
  per-event test ``check(envelope, record) -> bool`` (e.g. "this customer
  exists"). A kind may also keep only ids in the intent and rebuild the events
  from the store when it resolves (the listener's mention batches: one small
  record per batch of 500). Why an intent before the write rather than the
  event inside the written document: the writes announced here are inserts,
  ``$set``s and bulk writes in several collections, and a marker in every one of
  them would change every document's shape; an intent is one insert and one
  delete per write (or batch) and leaves the documents alone. The price: a
  write slower than ``GRACE`` may be judged "not happened" by a relay that ran
  in between (it is then not announced), and a check can only see the state as
  it is now (a ``customer.updated`` whose own write failed but that a later
  update overtook is announced; that later update announces itself too).

``VINCULO_FAULT=after_write`` (``shared.faults``) kills the process in
``announce`` (the write done, nothing published) and ``VINCULO_FAULT=after_intent``
right after an intent is written (the state write not done): the crash tests'
two cases.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import mongoengine as me
from bson import ObjectId

from shared import faults
from shared.logs import get_correlation_id
from shared.messaging.batch_publisher import BatchPublisher
from shared.messaging.contracts import Envelope, Event, envelope_for, parse_envelope
from shared.messaging.outbox_messages import OutboxMessage, keep_in_outbox
from shared.messaging.publisher import Publisher
from shared.messaging.topology import Topology
from shared.store import utcnow

log = logging.getLogger(__name__)

GRACE = 60.0  # seconds an intent waits for its write before the relay resolves it

Resolver = Callable[[dict], list[Envelope]]
_RESOLVERS: dict[str, tuple[str, Resolver]] = {}


class OutboxIntent(me.DynamicDocument):
    """An announcement written before the state it announces (see the module docstring)."""

    kind = me.StringField(required=True)
    at = me.DateTimeField(default=utcnow)
    envelopes = me.ListField(me.StringField())

    meta = {"collection": "outbox_intents", "indexes": [("kind", "at")]}


def intents():
    return OutboxIntent._get_collection()


def register(kind: str, producer: str, resolve: Resolver) -> None:
    """``resolve(record) -> envelopes``: which of an intent's events are facts in the store now."""
    _RESOLVERS[kind] = (producer, resolve)


def checked(check: Callable[[Envelope, dict], bool]) -> Resolver:
    """A resolver for intents that hold their envelopes: those ``check(envelope, record)`` confirms."""

    def resolve(record: dict) -> list[Envelope]:
        envelopes = [parse_envelope(text) for text in record.get("envelopes") or []]
        return [envelope for envelope in envelopes if check(envelope, record)]

    return resolve


@dataclass
class Intent:
    id: ObjectId
    kind: str
    envelopes: list[Envelope] = field(default_factory=list)


class Outbox:
    """One per process and producer; thread-safe."""

    def __init__(self, publisher: Publisher, batches: BatchPublisher | None = None):
        self.publisher = publisher
        self.producer = publisher.producer_name
        self._batches = batches
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, amqp_url: str, topology: Topology, producer: str) -> Outbox:
        return cls(Publisher(amqp_url, topology, producer))

    @property
    def batches(self) -> BatchPublisher:
        with self._lock:
            if self._batches is None:
                p = self.publisher
                self._batches = BatchPublisher(p.amqp_url, p.topology, self.producer)
            return self._batches

    # --- publishing a fact already in the store ------------------------------------

    def publish(
        self,
        event: Event,
        message_id: str | None = None,
        correlation_id: str | None = None,
        occurred_at: datetime.datetime | None = None,
    ) -> Envelope:
        """Publish now (confirmed), or keep it for the relay; the envelope either way."""
        envelope = envelope_for(
            event, self.producer, correlation_id or get_correlation_id(), message_id, occurred_at
        )
        self._publish_one(envelope)
        return envelope

    def publish_many(self, items: Iterable[tuple[Event, str | None, str | None]]) -> bool:
        """``items``: (event, message id or None, correlation id or None), with one wait for the
        confirms; True when the broker confirmed them all, False when they are kept for the relay."""
        current = get_correlation_id()
        return self.publish_envelopes(
            [
                envelope_for(event, self.producer, correlation_id or current, message_id)
                for event, message_id, correlation_id in items
            ]
        )

    def publish_envelopes(self, envelopes: list[Envelope]) -> bool:
        if not envelopes:
            return True
        if len(envelopes) == 1:
            return self._publish_one(envelopes[0])
        return self.batches.publish_envelopes(envelopes)

    def _publish_one(self, envelope: Envelope) -> bool:
        try:
            self.publisher.publish_envelope(envelope)
            return True
        except Exception as exc:  # noqa: BLE001 - any broker failure: keep it for the relay
            log.warning(
                "broker unavailable, %s %s kept in outbox: %s", envelope.type, envelope.message_id, exc
            )
            keep_in_outbox([envelope], exc)
            return False

    # --- announcing a write: the intent first ---------------------------------------

    def record(self, kind: str, envelopes: Iterable[Envelope] = (), **data) -> Intent:
        """Write an intent before the state write; ``data`` is kept for the kind's resolver."""
        if kind not in _RESOLVERS:
            raise LookupError(f"no resolver registered for outbox intents of kind {kind!r}")
        envelopes = list(envelopes)
        intent = Intent(ObjectId(), kind, envelopes)
        intents().insert_one(
            {
                "_id": intent.id,
                "kind": kind,
                "at": utcnow(),
                "envelopes": [e.to_json() for e in envelopes],
                **data,
            }
        )
        faults.point("after_intent")
        return intent

    def intend(
        self,
        event: Event,
        message_id: str | None = None,
        occurred_at: datetime.datetime | None = None,
        **data,
    ) -> Intent:
        """One event's intent (with the current correlation id; ``occurred_at`` default now); its
        kind is its type, resolved by the check registered for it."""
        envelope = envelope_for(event, self.producer, get_correlation_id(), message_id, occurred_at)
        return self.record(event.type, [envelope], **data)

    def announce(self, intent: Intent, envelopes: list[Envelope] | None = None) -> bool:
        """After the write: publish (``envelopes``, default the intent's own) and drop the intent.

        What the broker does not take is kept in the outbox first, so the
        intent may go either way."""
        faults.point("after_write")
        published = self.publish_envelopes(intent.envelopes if envelopes is None else envelopes)
        self.discard(intent)
        return published

    def keep(self, intent: Intent) -> None:
        """The write is still going on (a long piece of work renewing its claims): the intent
        is due a whole grace period from now, so no relay resolves it half-way."""
        intents().update_one({"_id": intent.id}, {"$set": {"at": utcnow()}})

    def discard(self, intent: Intent) -> None:
        """The write announced nothing after all (e.g. a replay): nothing to publish."""
        intents().delete_one({"_id": intent.id})

    # --- the relay (each service's idle task) ---------------------------------------

    def relay(self, limit: int = 500, older_than: float = GRACE) -> int:
        """Send what the broker could not take, then the due intents of this producer;
        how many events went out (or were kept again)."""
        return self._relay_kept(limit) + self.relay_intents(older_than=older_than)

    def _relay_kept(self, limit: int) -> int:
        sent = 0
        for stored in OutboxMessage.objects.order_by("created_at").limit(limit):
            try:
                self.publisher.publish_envelope(parse_envelope(stored.envelope))
            except Exception as exc:  # noqa: BLE001 - still down: try next time
                OutboxMessage.objects(id=stored.id).update_one(
                    inc__attempts=1, set__last_error=str(exc)[:500]
                )
                break
            stored.delete()
            sent += 1
        return sent

    def relay_intents(
        self, kinds: Iterable[str] | None = None, older_than: float = GRACE, limit: int = 20
    ) -> int:
        """Resolve and announce intents older than ``older_than`` seconds; how many events."""
        mine = [kind for kind, (producer, _) in _RESOLVERS.items() if producer == self.producer]
        kinds = mine if kinds is None else [kind for kind in kinds if kind in mine]
        if not kinds:
            return 0
        announced = 0
        for _ in range(limit):
            cutoff = utcnow() - datetime.timedelta(seconds=older_than)
            record = intents().find_one_and_update(
                {"kind": {"$in": kinds}, "at": {"$lt": cutoff}}, {"$set": {"at": utcnow()}}
            )
            if record is None:
                break
            _, resolve = _RESOLVERS[record["kind"]]
            envelopes = resolve(record)
            if envelopes:
                log.warning(
                    "announcing %d %s events a stopped process left unannounced",
                    len(envelopes),
                    record["kind"],
                )
            self.publish_envelopes(envelopes)
            intents().delete_one({"_id": record["_id"]})
            announced += len(envelopes)
        return announced

    def close(self) -> None:
        self.publisher.close()
        with self._lock:
            if self._batches is not None:
                self._batches.close()
