"""The delivery worker: send.requested batches -> one Delivery per
(campaign, customer, step) -> messages.

Per batch, the store is read in bulk (existing deliveries, customers,
consent states, suppression hashes, recent marketing sends: one query each)
and the new deliveries are inserted in one ``insert_many``. Inserting a
delivery as ``sending`` *is* the claim: the unique key lets only one worker
insert it, so a duplicated or redelivered send.requested never sends twice.

Crash semantics (documented choice: at-least-once, same Message-ID): a
delivery is claimed before the message is handed over and recorded ``sent``
right after the provider accepted it. A worker renews the claims it still
holds every quarter of the lease while it sends, so a batch slowed by the
rate limit is never taken for abandoned. If the worker dies between those two
points the delivery stays ``sending``; once its lease (``claim_lease``) has
passed, any worker's sweep takes it over and sends it again, marked
``recovered``. The copy carries the same Message-ID (mailbox providers fold
such duplicates). At most ``smtp_connections + finalize_every - 1``
messages per dead worker can be in that window (1 with the defaults).
Choosing at-most-once instead would lose those messages silently; we prefer
the visible, marked duplicate.

Transient failures put the delivery back as ``deferred`` with a growing
delay, retried by the sweep; after ``worker_max_attempts`` it is ``failed``.
Permanent failures are ``failed`` with the provider's reason at once.

The jobs are split by module: claiming and the sweep here, sending and
recording outcomes in ``delivering``, the events in ``announcing``; the store
commands in ``store.deliveries``.
"""

from __future__ import annotations

import collections
import concurrent.futures
import datetime
import threading
import uuid

from bson import ObjectId
from bson.errors import InvalidId

from services.mailer import policy
from services.mailer import templates as tpl
from services.mailer.announcing import Announcing
from services.mailer.checks import BatchContext
from services.mailer.delivering import Delivering
from services.mailer.models import CHANNELS
from services.mailer.ratelimit import RateLimiter
from services.mailer.store import deliveries
from services.mailer.store import templates as template_store
from services.mailer.tokens import from_settings as tokens_from_settings
from services.mailer.tracking import Links
from shared.messaging.consumer import Poison
from shared.messaging.contracts import Envelope, SendRequested
from shared.models import TOPICS
from shared.store import utcnow


class Sender(Announcing, Delivering):
    """One worker's sender. ``open_transport(channel)`` makes a transport (the bootstrap's);
    ``transports`` given are used as they are, by every thread."""

    def __init__(
        self,
        settings,
        events,
        transports: dict | None = None,
        batch_publisher=None,
        *,
        open_transport=None,
        links: Links | None = None,
    ):
        self.settings = settings
        self.events = events
        self.batch_publisher = batch_publisher
        self.open_transport = open_transport
        self.worker_id = uuid.uuid4().hex
        if links is None:
            links = Links(tokens_from_settings(settings), settings.public_url, settings.unsubscribe_mailto)
        self.links = links
        self.tokens = links.tokens
        self._given = dict(transports or {})
        self._local = threading.local()
        self._made: list = []
        self._made_lock = threading.Lock()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._unannounced: list[dict] = []
        self._held: list | None = None  # a sweep's events, announced at its end
        self._sweep_intent = None  # the running sweep's outbox intent
        self.limiters = {
            "email": RateLimiter("email", settings.rate_email),
            "sms": RateLimiter("sms", settings.rate_sms),
        }

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        for transport in self._made + list(self._given.values()):
            transport.close()
        if self.batch_publisher is not None:
            self.batch_publisher.close()

    # --- send.requested -------------------------------------------------------

    def on_send_requested(self, envelope: Envelope) -> None:
        """Create, check and send this batch's deliveries; each recipient at most once."""
        event: SendRequested = envelope.event()
        if event.channel not in CHANNELS:
            raise Poison(f"channel {event.channel!r} is not one of {', '.join(CHANNELS)}")
        if event.topic not in TOPICS:
            raise Poison(f"topic {event.topic!r} is not one of {', '.join(TOPICS)}")
        try:
            template_id = ObjectId(event.template_id)
            ids = list(dict.fromkeys(ObjectId(raw) for raw in event.customer_ids))
        except (InvalidId, TypeError) as exc:
            raise Poison(f"not an id: {exc}") from None
        template = template_store.get(template_id)
        if template is None:
            raise Poison(f"template {event.template_id} does not exist")
        if template.channel != event.channel:
            raise Poison(f"template {event.template_id} is for {template.channel}, not {event.channel}")
        if template.archived:
            raise Poison(f"template {event.template_id} is archived")
        # a step keeps the version its first batch used: a publish mid-campaign changes nothing it sends
        number = tpl.version_for_send(template, event.campaign_id, event.step)
        if not number:
            raise Poison(f"template {event.template_id} has no published version")
        now = utcnow()
        existing = deliveries.existing_of_batch(event.campaign_id, event.step, ids)
        fresh = [cid for cid in ids if cid not in existing]
        claimed: list[dict] = []
        customers: dict = {}
        if fresh:
            context = BatchContext(fresh, event.channel, event.topic, event.marketing, self.settings, now)
            customers.update(context.customers)
            docs = [self._new_delivery(event, cid, context, template_id, number, now) for cid in fresh]
            lost = deliveries.insert_claims(docs)
            claimed += [doc for doc in docs if doc["status"] == "sending" and doc["_id"] not in lost]
            self._announce_skipped(
                [doc for doc in docs if doc["status"] == "skipped" and doc["_id"] not in lost]
            )
        # Deliveries this batch already has: failed ones on "resend to failed", and
        # claims abandoned by a dead worker; everything else is done or waiting.
        reclaimed = []
        stale_before = now - datetime.timedelta(seconds=self.settings.claim_lease)
        for doc in existing.values():
            if doc["status"] == "failed" and event.retry_failed:
                taken = deliveries.claim_failed(doc["_id"], self.worker_id, now)
            elif doc["status"] == "sending" and doc.get("claimed_at") and doc["claimed_at"] < stale_before:
                taken = deliveries.claim_abandoned(doc["_id"], doc["claimed_at"], self.worker_id, now)
            else:
                continue
            if taken:
                reclaimed.append(taken)
        reclaimed = self._give_up_abandoned(reclaimed)
        if reclaimed:
            claimed += self._recheck(reclaimed, customers, now)
        self._send_all(claimed, customers)
        self._reannounce([doc for doc in existing.values() if doc["status"] == "sent"])
        if not event.retry_failed:  # (a resend took its failed deliveries over above)
            self._reannounce_failed([doc for doc in existing.values() if doc["status"] == "failed"])
        # a crash between inserting skipped deliveries and announcing them: announce again (same ids)
        self._announce_skipped([doc for doc in existing.values() if doc["status"] == "skipped"])

    def _new_delivery(
        self, event: SendRequested, cid, context: BatchContext, template_id, number, now
    ) -> dict:
        """The delivery of one new recipient: claimed (``sending``), deferred or skipped, as the rules say."""
        decision = context.decide(cid)
        doc = {
            "_id": ObjectId(),
            "campaign_id": event.campaign_id,
            "customer_id": cid,
            "step": event.step,
            "variant": event.variant,
            "channel": event.channel,
            "topic": event.topic,
            "marketing": event.marketing,
            "template_id": template_id,
            "template_version": number,
            "attempts": 0,
            "recovered": False,
            "created_at": now,
        }
        if decision.action == "send":
            doc.update(
                status="sending",
                claim=self.worker_id,
                claimed_at=now,
                address=policy.address_of(context.customers[cid], event.channel),
            )
        elif decision.action == "defer":
            doc.update(status="deferred", reason=decision.reason, code=decision.code, due_at=decision.due_at)
        else:
            doc.update(status="skipped", reason=decision.reason, code=decision.code)
        return doc

    def _give_up_abandoned(self, docs: list[dict]) -> list[dict]:
        """The taken-over deliveries still worth a try; the others end failed (``abandoned``).

        Taking over an abandoned claim counts as an attempt: a message whose handling kills
        its worker every time ends ``failed`` after ``worker_max_attempts`` tries instead of
        being retried forever."""
        alive = []
        for doc in docs:
            if doc.get("recovered") and doc.get("attempts", 0) >= self.settings.worker_max_attempts:
                self._fail(
                    doc,
                    f"no outcome after {doc['attempts']} attempts (the worker stopped each time)",
                    "abandoned",
                    counted=False,  # taking the claim over counted this attempt already
                )
            else:
                alive.append(doc)
        return alive

    def _recheck(self, docs: list[dict], customers: dict, now) -> list[dict]:
        """Send-time checks again for deliveries taken over later (deferred, failed, abandoned)."""
        ready: list[dict] = []
        skipped: list[dict] = []
        groups = collections.defaultdict(list)
        for doc in docs:
            groups[(doc["channel"], doc["topic"], doc["marketing"])].append(doc)
        for (channel, topic, marketing), group in groups.items():
            context = BatchContext(
                [d["customer_id"] for d in group], channel, topic, marketing, self.settings, now
            )
            customers.update(context.customers)
            for doc in group:
                decision = context.decide(doc["customer_id"])
                if decision.action == "send":
                    doc["address"] = policy.address_of(context.customers[doc["customer_id"]], channel)
                    ready.append(doc)
                elif decision.action == "defer":
                    deliveries.defer_claimed(
                        doc["_id"],
                        self.worker_id,
                        reason=decision.reason,
                        code=decision.code,
                        due_at=decision.due_at,
                    )
                elif deliveries.skip_claimed(
                    doc["_id"], self.worker_id, reason=decision.reason, code=decision.code
                ):
                    skipped.append({**doc, "code": decision.code})
        self._announce_skipped(skipped)
        return ready

    # --- the sweep (worker idle hook) ---------------------------------------------

    def sweep(self, limit: int = 200) -> int:
        """Send due deferred deliveries and take over abandoned claims; relay the outbox."""
        self.events.relay()
        now = utcnow()
        taken = []
        stale_before = now - datetime.timedelta(seconds=self.settings.claim_lease)
        for claim_next in (
            lambda: deliveries.claim_next_due(self.worker_id, now),
            lambda: deliveries.claim_next_abandoned(self.worker_id, now, stale_before),
        ):
            while len(taken) < limit:
                doc = claim_next()
                if doc is None:
                    break
                taken.append(doc)
        if not taken:
            return 0
        customers: dict = {}
        # No message comes again for this work: its events go out through one intent.
        with self._announced_together(taken):
            ready = self._recheck(self._give_up_abandoned(taken), customers, now)
            self._send_all(ready, customers)
        return len(taken)
