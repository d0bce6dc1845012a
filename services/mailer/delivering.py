"""Handing claimed deliveries over: render each message, send it through this
thread's transport within the providers' rate limit, and record each outcome
(sent, deferred with a growing delay, failed with the provider's reason).

``Delivering`` is a part of ``sender.Sender``: it uses the sender's
``settings``, ``worker_id``, ``links``, ``limiters``, ``open_transport`` and the
announcing part (``_announce``, ``_announce_sent``, ``_unannounced``).
"""

from __future__ import annotations

import concurrent.futures
import datetime
import logging
import time

from pymongo.errors import ConnectionFailure

from services.mailer import compose
from services.mailer import templates as tpl
from services.mailer.announcing import ANNOUNCE_EVERY
from services.mailer.rendering import RenderError
from services.mailer.store import deliveries
from services.mailer.transport import PermanentFailure, TransientFailure
from shared.messaging.outbox import GRACE
from shared.store import utcnow

log = logging.getLogger(__name__)


class Delivering:
    def transport(self, channel: str):
        """This thread's transport: an SMTP session is not shared between threads."""
        if channel in self._given:
            return self._given[channel]
        transports = getattr(self._local, "transports", None)
        if transports is None:
            transports = self._local.transports = {}
        if channel not in transports:
            transports[channel] = self.open_transport(channel)
            with self._made_lock:
                self._made.append(transports[channel])
        return transports[channel]

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
            if time.monotonic() - renewed >= min(self.settings.claim_lease, GRACE) / 4:
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
            deliveries.renew_claims([doc["_id"] for doc in docs], self.worker_id, utcnow())
            if self._sweep_intent is not None:  # a sweep outlasting the outbox's grace
                self.events.keep(self._sweep_intent)
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

        def write():
            if all(doc["channel"] == "email" for doc, _ in pending):
                deliveries.mark_sent([doc["_id"] for doc, _ in pending], self.worker_id, now)
            else:
                for doc, provider_id in pending:
                    deliveries.mark_sent_with_provider_id(doc["_id"], self.worker_id, now, provider_id)

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

    def _fail(self, doc: dict, reason: str, code: str = "provider_rejected", counted: bool = True) -> None:
        log.info("delivery %s failed (%s): %s", doc["_id"], code, reason)
        deliveries.fail_claimed(doc["_id"], self.worker_id, reason=reason[:500], code=code, counted=counted)
        self._announce_failed(doc, reason[:500], code)

    def _retry_later(self, doc: dict, reason: str, code: str = "provider_unavailable") -> None:
        attempts = doc.get("attempts", 0) + 1
        if attempts >= self.settings.worker_max_attempts:
            self._fail(doc, f"gave up after {attempts} attempts; last: {reason}", code)
            return
        delay = min(
            self.settings.worker_max_retry_delay, self.settings.worker_retry_delay * 2 ** (attempts - 1)
        )
        deliveries.defer_claimed(
            doc["_id"],
            self.worker_id,
            reason=f"transient: {reason}"[:500],
            code=code,
            due_at=utcnow() + datetime.timedelta(seconds=delay),
            attempts=attempts,
        )
