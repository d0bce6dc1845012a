"""Negative spikes per query: episodes, alert.raised once per episode, webhooks.

The rule (README, "Alerts"), evaluated after each poll of a query, with W the
recent window (default 1 h) and B the baseline just before it (default 24 h):

* the window has at least ``min_negative`` negative mentions, and
* its negative share is at least ``share_ratio`` x the baseline's share and
  at least ``min_share_increase`` above it (a quiet baseline of 0 % means
  any share above ``min_share_increase`` counts), or its negative count is
  at least ``count_ratio`` x the baseline's negative rate scaled to W.

An episode opens when the rule first holds; it stays open (no new alert)
while the rule holds, and closes when it no longer does and the window's
share is back within 1.25 x the baseline share or the window has fewer than
``min_negative`` negatives (hysteresis, so an episode does not flap). The
open episode is claimed by a unique index on ``open_for`` (the query id), so
replicas evaluating at the same time raise it once. ``alert.raised`` is announced
through an outbox intent written before the claim (the episode's id chosen
first): a process killed after the claim leaves it to the relay, which
announces it if the episode was stored (the open episode would otherwise keep
any later evaluation from raising it). The webhook is called
in a background thread with a timeout and bounded retries; each attempt is
recorded, and ingestion never waits for it. Webhook URLs are typed by users:
they are called only through the guarded client (``shared.outbound``: public
addresses only, no redirects followed, the answer's body never recorded).
"""

from __future__ import annotations

import datetime
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bson import ObjectId

from services.listener import store
from services.listener.announce import PRODUCER, message_id_for
from services.listener.models import AlertEpisode
from shared.messaging import outbox as outboxes
from shared.messaging.contracts import AlertRaised
from shared.messaging.outbox import Outbox
from shared.outbound import Outbound, OutboundError
from shared.store import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    window: datetime.timedelta = datetime.timedelta(hours=1)
    baseline: datetime.timedelta = datetime.timedelta(hours=24)
    min_negative: int = 5
    share_ratio: float = 2.0
    min_share_increase: float = 0.15
    count_ratio: float = 3.0

    @classmethod
    def from_settings(cls, settings) -> Rule:
        return cls(
            datetime.timedelta(minutes=settings.alert_window_minutes),
            datetime.timedelta(hours=settings.alert_baseline_hours),
            settings.alert_min_negative,
            settings.alert_share_ratio,
            settings.alert_min_share_increase,
            settings.alert_count_ratio,
        )


@dataclass(frozen=True)
class Figures:
    window_start: datetime.datetime
    window_end: datetime.datetime
    negative: int
    total: int
    baseline_negative: int
    baseline_total: int

    @property
    def share(self) -> float:
        return self.negative / self.total if self.total else 0.0

    @property
    def baseline_share(self) -> float:
        return self.baseline_negative / self.baseline_total if self.baseline_total else 0.0


def figures(query_id, rule: Rule, now: datetime.datetime) -> Figures:
    start = now - rule.window
    base_start = start - rule.baseline
    return Figures(
        start,
        now,
        store.count_posted(query_id, start, now, True),
        store.count_posted(query_id, start, now, False),
        store.count_posted(query_id, base_start, start, True),
        store.count_posted(query_id, base_start, start, False),
    )


def spiking(f: Figures, rule: Rule) -> bool:
    if f.negative < rule.min_negative:
        return False
    share_spike = (
        f.share >= rule.share_ratio * f.baseline_share
        and f.share - f.baseline_share >= rule.min_share_increase
    )
    expected = f.baseline_negative * (rule.window / rule.baseline)  # the baseline's rate over W
    count_spike = expected > 0 and f.negative >= rule.count_ratio * expected
    return share_spike or count_spike


def calmed(f: Figures, rule: Rule) -> bool:
    return f.negative < rule.min_negative or f.share <= 1.25 * f.baseline_share


class Alerts:
    def __init__(
        self,
        publisher: Outbox,
        rule: Rule,
        webhook_timeout: float = 5.0,
        webhook_attempts: int = 3,
        retry_delay: float = 1.0,
        outbound: Outbound | None = None,
    ):
        self.publisher = publisher
        self.outbound = outbound or Outbound(timeout=webhook_timeout, deadline=webhook_timeout * 2)
        self.rule = rule
        self.webhook_timeout = webhook_timeout
        self.webhook_attempts = webhook_attempts
        self.retry_delay = retry_delay
        self.hooks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook")
        self._stop = threading.Event()

    def evaluate(self, query, now: datetime.datetime | None = None) -> AlertEpisode | None:
        """Open, update or close the query's episode; returns a newly opened one."""
        now = now or utcnow()
        f = figures(query.id, self.rule, now)
        current = store.open_episode(query.id)
        if current is not None:
            if calmed(f, self.rule):
                store.close_episode(current.id, now)
            elif f.negative > (current.peak_negative_count or 0):
                store.raise_episode_peak(current.id, f.negative)
            return None
        if not spiking(f, self.rule):
            return None
        episode = AlertEpisode(
            id=ObjectId(),
            query_id=query.id,
            open_for=query.id,
            opened_at=now,
            negative_count=f.negative,
            negative_share=round(f.share, 4),
            baseline_share=round(f.baseline_share, 4),
            window_start=f.window_start,
            window_end=f.window_end,
            peak_negative_count=f.negative,
            webhook_status="pending" if query.webhook_url else "none",
        )
        event = AlertRaised(
            alert_id=str(episode.id),
            query_id=str(query.id),
            negative_count=f.negative,
            negative_share=round(f.share, 4),
            baseline_share=round(f.baseline_share, 4),
            window_start=_iso(f.window_start),
            window_end=_iso(f.window_end),
        )
        # The intent goes before the claim: a process killed after it leaves the alert to the relay.
        intent = self.publisher.intend(event, message_id_for("alert.raised", str(episode.id)))
        if not store.claim_open_episode(episode):
            self.publisher.discard(intent)
            return None  # another replica opened it first: it raises the alert
        self.publisher.announce(intent)
        if query.webhook_url:
            self.hooks.submit(self.call_webhook, episode.id, query.id, query.webhook_url, event.to_dict())
        return episode

    def call_webhook(self, episode_id, query_id, url: str, payload: dict) -> bool:
        """POST the alert; each attempt is recorded; the outcome is set on the episode."""
        body = {"type": "alert.raised", **payload}
        for attempt in range(1, self.webhook_attempts + 1):
            status, error = None, None
            try:
                response = self.outbound.post_json(url, body, headers={"User-Agent": "vinculo-listener/0.1"})
                status = response.status
                ok = response.ok
                if not ok:
                    error = f"HTTP {status}"
            except OutboundError as exc:
                ok, error = False, str(exc)[:1000]
            store.record_webhook_call(
                episode_id=episode_id,
                query_id=query_id,
                url=url,
                attempt=attempt,
                status_code=status,
                error=error,
                ok=ok,
            )
            if ok:
                store.set_webhook_status(episode_id, "delivered")
                return True
            if attempt < self.webhook_attempts and self._stop.wait(self.retry_delay * attempt):
                break
        store.set_webhook_status(episode_id, "failed")
        log.warning("webhook %s failed for alert %s", url, episode_id)
        return False

    def close(self) -> None:
        self._stop.set()
        self.hooks.shutdown(wait=True)


def _iso(value: datetime.datetime) -> str:
    return value.replace(tzinfo=datetime.UTC).isoformat()


def _stored(envelope, record: dict) -> bool:
    """The episode an alert.raised announces was claimed (stored)."""
    return store.episode_exists(ObjectId(envelope.payload["alert_id"]))


outboxes.register("alert.raised", PRODUCER, outboxes.checked(_stored))
