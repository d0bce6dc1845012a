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
"""

from __future__ import annotations

import collections
import concurrent.futures
import datetime
import logging
import threading
import time
import uuid

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, ConnectionFailure

from services.mailer import compose, policy
from services.mailer import templates as tpl
from services.mailer.checks import BatchContext
from services.mailer.email_message import SmtpTransport
from services.mailer.models import CHANNELS, Delivery, Template
from services.mailer.ratelimit import RateLimiter
from services.mailer.rendering import RenderError
from services.mailer.tokens import from_settings as tokens_from_settings
from services.mailer.tracking import Links
from services.mailer.transport import PermanentFailure, TransientFailure
from shared.messaging.consumer import Poison
from shared.messaging.contracts import DeliveryFailed, DeliverySent, DeliverySkipped, Envelope, SendRequested
from shared.models import TOPICS, Interaction
from shared.store import utcnow

log = logging.getLogger(__name__)

ANNOUNCE_EVERY = 200  # recorded sends published (delivery.sent) and written to the timeline together


class Sender:
    def __init__(self, settings, events, transports: dict | None = None, batch_publisher=None):
        self.settings = settings
        self.events = events
        self.batch_publisher = batch_publisher
        self.worker_id = uuid.uuid4().hex
        self.tokens = tokens_from_settings(settings)
        self.links = Links(self.tokens, settings.public_url, settings.unsubscribe_mailto)
        self._given = dict(transports or {})
        self._local = threading.local()
        self._made: list = []
        self._made_lock = threading.Lock()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._unannounced: list[dict] = []
        self.limiters = {
            "email": RateLimiter("email", settings.rate_email),
            "sms": RateLimiter("sms", settings.rate_sms),
        }

    def transport(self, channel: str):
        """This thread's transport: an SMTP session is not shared between threads."""
        if channel in self._given:
            return self._given[channel]
        transports = getattr(self._local, "transports", None)
        if transports is None:
            transports = self._local.transports = {}
        if channel not in transports:
            if channel == "email":
                transports[channel] = SmtpTransport(self.settings)
            else:
                from services.mailer.sms import SmsTransport

                transports[channel] = SmsTransport(self.settings)
            with self._made_lock:
                self._made.append(transports[channel])
        return transports[channel]

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
        template = Template.objects(id=template_id).first()
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
        collection = Delivery._get_collection()
        existing = {
            doc["customer_id"]: doc
            for doc in collection.find(
                {"campaign_id": event.campaign_id, "step": event.step, "customer_id": {"$in": ids}},
                {
                    "customer_id": 1,
                    "status": 1,
                    "claimed_at": 1,
                    "campaign_id": 1,
                    "channel": 1,
                    "step": 1,
                    "variant": 1,
                    "sent_at": 1,
                    "reason": 1,
                    "code": 1,
                },
            )
        }
        fresh = [cid for cid in ids if cid not in existing]
        claimed: list[dict] = []
        customers: dict = {}
        if fresh:
            context = BatchContext(fresh, event.channel, event.topic, event.marketing, self.settings, now)
            customers.update(context.customers)
            docs = []
            for cid in fresh:
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
                    doc.update(
                        status="deferred", reason=decision.reason, code=decision.code, due_at=decision.due_at
                    )
                else:
                    doc.update(status="skipped", reason=decision.reason, code=decision.code)
                docs.append(doc)
            lost = self._insert(docs)
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
                condition, recovered = {"status": "failed"}, False
            elif doc["status"] == "sending" and doc.get("claimed_at") and doc["claimed_at"] < stale_before:
                condition, recovered = {"status": "sending", "claimed_at": doc["claimed_at"]}, True
            else:
                continue
            taken = self._claim({"_id": doc["_id"], **condition}, now, recovered)
            if taken:
                reclaimed.append(taken)
        reclaimed = self._give_up_abandoned(reclaimed)
        if reclaimed:
            claimed += self._recheck(reclaimed, customers, now)
        self._send_all(claimed, customers)
        self._reannounce([doc for doc in existing.values() if doc["status"] == "sent"])
        # a crash between inserting skipped deliveries and announcing them: announce again (same ids)
        self._announce_skipped([doc for doc in existing.values() if doc["status"] == "skipped"])

    def _insert(self, docs: list[dict]) -> set:
        """Insert; the ids another worker's insert beat us to (same unique key)."""
        if not docs:
            return set()
        try:
            Delivery._get_collection().insert_many(docs, ordered=False)
            return set()
        except BulkWriteError as exc:
            lost = set()
            for error in exc.details.get("writeErrors", []):
                if error.get("code") != 11000:
                    raise
                lost.add(docs[error["index"]]["_id"])
            return lost

    def _claim(self, query: dict, now, recovered: bool = False) -> dict | None:
        """Take a delivery over. Taking over an abandoned claim counts as an attempt: a message
        whose handling kills its worker every time ends ``failed`` (``abandoned``) after
        ``worker_max_attempts`` tries instead of being retried forever."""
        update: dict = {"$set": {"status": "sending", "claim": self.worker_id, "claimed_at": now}}
        if recovered:
            update["$set"]["recovered"] = True
            update["$inc"] = {"attempts": 1}
        return Delivery._get_collection().find_one_and_update(
            query, update, return_document=ReturnDocument.AFTER
        )

    def _give_up_abandoned(self, docs: list[dict]) -> list[dict]:
        """The taken-over deliveries still worth a try; the others end failed (``abandoned``)."""
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
        collection = Delivery._get_collection()
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
                    collection.update_one(
                        {"_id": doc["_id"], "claim": self.worker_id},
                        {
                            "$set": {
                                "status": "deferred",
                                "reason": decision.reason,
                                "code": decision.code,
                                "due_at": decision.due_at,
                            }
                        },
                    )
                else:
                    moved = collection.update_one(
                        {"_id": doc["_id"], "claim": self.worker_id},
                        {"$set": {"status": "skipped", "reason": decision.reason, "code": decision.code}},
                    )
                    if moved.modified_count:
                        skipped.append({**doc, "code": decision.code})
        self._announce_skipped(skipped)
        return ready

    def _announce_skipped(self, docs: list[dict]) -> None:
        """delivery.skipped for each delivery a rule stopped, with its code: a campaign counts it
        as done (not sent, and why) rather than waiting for it."""
        if not docs:
            return
        items = [
            (
                self._event(DeliverySkipped, doc, doc.get("reason"), doc.get("code")),
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

    # --- sending ----------------------------------------------------------------

    def _send_all(self, claimed: list[dict], customers: dict) -> None:
        """Render and hand over each claimed delivery, recording outcomes as they come.

        Up to ``smtp_connections`` emails are in flight at once (one SMTP
        session per sending thread); outcomes are handled here, in order of
        completion, so store writes stay on this thread.
        """
        if not claimed:
            return
        pending: list[tuple[dict, str]] = []
        allowance = 0
        parallel = self.settings.smtp_connections if claimed[0]["channel"] == "email" else 1
        in_flight: dict = {}
        renewed = time.monotonic()

        def settle(future, doc):
            try:
                provider_id = future.result()
            except RenderError as exc:
                self._fail(doc, f"template {exc}", "template_error")
                return
            except PermanentFailure as exc:
                self._fail(doc, str(exc), exc.code)
                return
            except TransientFailure as exc:
                self._retry_later(doc, str(exc), exc.code)
                return
            except Exception as exc:  # noqa: BLE001 - one recipient's message that cannot be built
                # is that recipient's failure alone: counted, retried up to the limit, never the batch's.
                log.warning("delivery %s: message could not be built", doc["_id"], exc_info=True)
                self._retry_later(doc, f"{type(exc).__name__}: {exc}", "build_error")
                return
            pending.append((doc, provider_id))
            if len(pending) >= self.settings.finalize_every:
                self._finalize(pending)
                pending.clear()

        for index, doc in enumerate(claimed):
            if allowance == 0:
                allowance = self.limiters[doc["channel"]].acquire(len(claimed) - index)
            allowance -= 1
            if time.monotonic() - renewed >= self.settings.claim_lease / 4:
                # Not yet handed over, in flight, or accepted but not yet recorded as sent.
                self._renew_claims([*claimed[index:], *in_flight.values(), *(doc for doc, _ in pending)])
                renewed = time.monotonic()
            if parallel <= 1:
                future = concurrent.futures.Future()
                try:
                    future.set_result(self._deliver(doc, customers[doc["customer_id"]]))
                except Exception as exc:  # noqa: BLE001 - settled below like a pooled send
                    future.set_exception(exc)
                settle(future, doc)
                continue
            while len(in_flight) >= parallel:
                done, _ = concurrent.futures.wait(in_flight, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    settle(future, in_flight.pop(future))
            in_flight[self._pool().submit(self._deliver, doc, customers[doc["customer_id"]])] = doc
        for future in concurrent.futures.as_completed(list(in_flight)):
            settle(future, in_flight.pop(future))
        self._finalize(pending)
        self._announce_sent()

    def _renew_claims(self, docs: list[dict]) -> None:
        """Restart the lease of claims this worker still has to hand over.

        A batch held back by the provider's rate limit (500 SMS at 1 per
        second) outlasts the lease; without this, another worker's sweep would
        take its tail over as abandoned and send those messages a second time.
        A store outage skips the renewal: sending goes on, and recording waits
        for the store (``_record_accepted``).
        """
        try:
            Delivery._get_collection().update_many(
                {"_id": {"$in": [doc["_id"] for doc in docs]}, "claim": self.worker_id, "status": "sending"},
                {"$set": {"claimed_at": utcnow()}},
            )
        except ConnectionFailure as exc:
            log.warning("claims not renewed, the store is unavailable: %s", exc)

    def _pool(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                self.settings.smtp_connections, thread_name_prefix="smtp"
            )
        return self._executor

    def _deliver(self, doc: dict, customer: dict) -> str:
        pack = tpl.pack(doc["template_id"], doc["template_version"], doc["channel"])
        if pack is None:
            raise PermanentFailure(f"template version {doc['template_version']} is gone")
        delivery_id = str(doc["_id"])
        customer_id = str(doc["customer_id"])
        if doc["channel"] == "email":
            raw = compose.email_bytes(
                self.settings,
                pack,
                customer,
                self.links,
                to=doc["address"],
                customer_id=customer_id,
                topic=doc["topic"],
                delivery_id=delivery_id,
            )
            transport = self.transport("email")
            transport.send(compose.verp(self.settings, delivery_id), doc["address"], transport.finish(raw))
            return compose.message_id(self.settings, delivery_id)
        text = compose.sms_text(
            pack, customer, self.links, customer_id=customer_id, topic=doc["topic"], delivery_id=delivery_id
        )
        return self.transport("sms").send(doc["address"], text)

    def _finalize(self, pending: list[tuple[dict, str]]) -> None:
        """Record accepted messages as sent: the one write that must follow each group at once."""
        if not pending:
            return
        now = utcnow()
        collection = Delivery._get_collection()

        def write():
            if all(doc["channel"] == "email" for doc, _ in pending):
                collection.update_many(
                    {"_id": {"$in": [doc["_id"] for doc, _ in pending]}, "claim": self.worker_id},
                    {"$set": {"status": "sent", "sent_at": now}},
                )
            else:
                for doc, provider_id in pending:
                    collection.update_one(
                        {"_id": doc["_id"], "claim": self.worker_id},
                        {"$set": {"status": "sent", "sent_at": now, "provider_id": provider_id}},
                    )

        self._record_accepted(write)
        for doc, _ in pending:
            doc["sent_at"] = now
        self._unannounced.extend(doc for doc, _ in pending)
        if len(self._unannounced) >= ANNOUNCE_EVERY:
            self._announce_sent()

    def _record_accepted(self, write) -> None:
        """Retry recording accepted messages through a store outage, for up to the claim lease.

        The relay has accepted them: giving up here would leave them
        ``sending`` and another worker would send them again after the lease.
        Within the lease nobody else takes them (the write is conditional on
        our claim, so after it a recovery wins and this write changes nothing).
        """
        deadline = time.monotonic() + self.settings.claim_lease
        delay = 0.2
        while True:
            try:
                write()
                return
            except ConnectionFailure as exc:
                if time.monotonic() + delay >= deadline:
                    raise
                log.warning("recording accepted messages failed, retrying: %s", exc)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _announce_sent(self) -> None:
        """Publish delivery.sent, then write the message_sent interactions, for recorded sends.

        Deferred from _finalize to keep the per-message path to one store write.
        Events go first: if the worker dies before the interactions are written,
        a redelivered batch finds sent deliveries without their interaction and
        announces them again (same message ids, so consumers drop the repeat).
        """
        docs, self._unannounced = self._unannounced, []
        if not docs:
            return
        items = [(self._event(DeliverySent, doc), f"delivery-{doc['_id']}-sent") for doc in docs]
        if self.batch_publisher is not None:
            self.batch_publisher.publish_many([(event, message_id, None) for event, message_id in items])
        else:
            for event, message_id in items:
                self.events.publish(event, message_id=message_id)
        interactions = [
            {
                "customer_id": doc["customer_id"],
                "kind": "message_sent",
                "at": doc.get("sent_at") or utcnow(),
                "key": f"delivery:{doc['_id']}:sent",
                "channel": doc["channel"],
                "campaign_id": doc["campaign_id"],
                "data": {"delivery_id": str(doc["_id"]), "step": doc["step"]},
            }
            for doc in docs
        ]
        try:
            Interaction._get_collection().insert_many(interactions, ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise

    def _reannounce(self, sent: list[dict]) -> None:
        """Sent deliveries of a redelivered batch whose announcement a crash may have cut short."""
        if not sent:
            return
        keys = {f"delivery:{doc['_id']}:sent": doc for doc in sent}
        written = {
            doc["key"] for doc in Interaction._get_collection().find({"key": {"$in": list(keys)}}, {"key": 1})
        }
        self._unannounced.extend(doc for key, doc in keys.items() if key not in written)
        self._announce_sent()

    @staticmethod
    def _event(cls, doc: dict, reason: str | None = None, code: str | None = None):
        return cls(
            delivery_id=str(doc["_id"]),
            campaign_id=doc["campaign_id"],
            customer_id=str(doc["customer_id"]),
            channel=doc["channel"],
            step=doc["step"],
            variant=doc.get("variant"),
            reason=reason,
            code=code,
        )

    def _announce(
        self, cls, doc: dict, what: str, reason: str | None = None, code: str | None = None
    ) -> None:
        self.events.publish(self._event(cls, doc, reason, code), message_id=f"delivery-{doc['_id']}-{what}")

    def _fail(self, doc: dict, reason: str, code: str = "provider_rejected", counted: bool = True) -> None:
        log.info("delivery %s failed (%s): %s", doc["_id"], code, reason)
        update: dict = {"$set": {"status": "failed", "reason": reason[:500], "code": code}}
        if counted:
            update["$inc"] = {"attempts": 1}
        Delivery._get_collection().update_one({"_id": doc["_id"], "claim": self.worker_id}, update)
        self._announce(DeliveryFailed, doc, f"failed-{doc.get('attempts', 0)}", reason[:500], code)

    def _retry_later(self, doc: dict, reason: str, code: str = "provider_unavailable") -> None:
        attempts = doc.get("attempts", 0) + 1
        if attempts >= self.settings.worker_max_attempts:
            self._fail(doc, f"gave up after {attempts} attempts; last: {reason}", code)
            return
        delay = min(
            self.settings.worker_max_retry_delay, self.settings.worker_retry_delay * 2 ** (attempts - 1)
        )
        Delivery._get_collection().update_one(
            {"_id": doc["_id"], "claim": self.worker_id},
            {
                "$set": {
                    "status": "deferred",
                    "reason": f"transient: {reason}"[:500],
                    "code": code,
                    "due_at": utcnow() + datetime.timedelta(seconds=delay),
                    "attempts": attempts,
                }
            },
        )

    # --- the sweep (worker idle hook) ---------------------------------------------

    def sweep(self, limit: int = 200) -> int:
        """Send due deferred deliveries and take over abandoned claims; relay the outbox."""
        self.events.relay()
        now = utcnow()
        taken = []
        stale_before = now - datetime.timedelta(seconds=self.settings.claim_lease)
        for query, recovered in (
            ({"status": "deferred", "due_at": {"$lte": now}}, False),
            ({"status": "sending", "claimed_at": {"$lt": stale_before}}, True),
        ):
            while len(taken) < limit:
                doc = self._claim(query, now, recovered)
                if doc is None:
                    break
                taken.append(doc)
        if not taken:
            return 0
        customers: dict = {}
        ready = self._recheck(self._give_up_abandoned(taken), customers, now)
        self._send_all(ready, customers)
        return len(taken)
