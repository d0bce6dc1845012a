"""The scheduler part: fires due campaigns, safe to run as several replicas.

Every ``scheduler_poll_seconds`` (an APScheduler interval job) each replica
tries to take or renew the lease document ``scheduler_leases/campaigns`` (a
conditional upsert: it succeeds only for the current holder or once the lease
has expired). The holder then:

1. fires due campaigns. A fire is claimed twice over: the run document's
   ``_id`` is the fire id ``<campaign>:<UTC fire time>`` (unique: the run is
   created once), and the campaign moves ``scheduled -> sending`` by an update
   conditional on its state and the ``next_fire_at`` being fired. Only the
   replica whose update matched publishes ``campaign.due``; so even two
   replicas that both believe they hold the lease (a paused process waking
   after its lease expired) never both send.
2. decides A/B winners whose window has passed (abtest.py);
3. advances journey enrollments whose wait is over (journeys.py);
4. re-announces runs nobody has worked on for ``stalled_after_seconds`` (a
   campaign.due lost between the store write and the broker).

Missed runs (the scheduler was down): a one-shot campaign (now / at) found
within ``misfire_grace_seconds`` of its time fires late; later than that it
is marked failed with reason "missed". A recurring campaign coalesces every
missed time into one run for the latest missed time if that is within the
grace, else skips them; skipped times are counted in ``missed_runs``; the
next fire is the first cron time after now.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import uuid

from services.campaigns import completion
from services.campaigns.schedules import next_cron_fire
from services.campaigns.serialize import iso
from services.campaigns.store import run_lease, scheduler_lease
from services.campaigns.store.campaign_queries import (
    campaign_state,
    due_campaigns,
    fail_missed,
    fire_campaign,
    skip_fires,
)
from services.campaigns.store.run_queries import create_run, mark_announced, stalled_runs, touch_run
from shared import faults
from shared.logs import event as log_event
from shared.messaging.contracts import CampaignDue
from shared.store import utcnow

log = logging.getLogger(__name__)

LEASE = "campaigns"
FIRED_KINDS = ["now", "at", "cron"]


def fire_id(campaign_id, at: datetime.datetime) -> str:
    return f"{campaign_id}:{at:%Y%m%dT%H%M%S}Z"


class Scheduler:
    def __init__(self, parts, holder: str | None = None, clock=utcnow):
        """``parts``: the process's ``CampaignsParts`` (settings, outbox)."""
        self.settings = parts.settings
        self.outbox = parts.outbox
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.clock = clock
        self.lease = scheduler_lease(self.holder, self.settings.scheduler_lease_seconds)

    # the lease ---------------------------------------------------------------

    def acquire_lease(self, now: datetime.datetime) -> bool:
        """Take or renew the lease; False while another replica holds it."""
        return self.lease.claim({"_id": LEASE}, now=now, upsert=True) is not None

    def release_lease(self) -> None:
        self.lease.release(LEASE)

    # the tick ----------------------------------------------------------------

    def tick(self) -> int:
        """One round; returns how many campaigns this replica fired."""
        now = self.clock()
        if not self.acquire_lease(now):
            return 0
        fired = self.fire_due(now)
        from services.campaigns import abtest, journeys

        abtest.decide_due(self, now)
        journeys.advance_due(self, now)
        self.sweep_stalled(now)
        completion.complete_runs(now)
        self.outbox.relay()
        return fired

    def fire_due(self, now: datetime.datetime) -> int:
        fired = 0
        for campaign in due_campaigns(now, FIRED_KINDS, 500):
            fired += self.fire(campaign, now)
        return fired

    def fire(self, campaign: dict, now: datetime.datetime) -> int:
        cid, due = campaign["_id"], campaign["next_fire_at"]
        schedule = campaign["schedule"]
        grace = datetime.timedelta(seconds=self.settings.misfire_grace_seconds)
        if schedule["kind"] == "cron":
            latest, skipped, upcoming = due, 0, next_cron_fire(schedule, due)
            while upcoming is not None and upcoming <= now:
                latest, skipped, upcoming = upcoming, skipped + 1, next_cron_fire(schedule, upcoming)
            if now - latest > grace:
                skip_fires(cid, due, upcoming, skipped + 1, now)
                log_event(
                    log,
                    "recurring campaign missed its runs",
                    logging.WARNING,
                    campaign_id=str(cid),
                    missed=skipped + 1,
                    next_fire_at=iso(upcoming),
                )
                return 0
            at, after = latest, {"state": "sending", "next_fire_at": upcoming}
            inc = {"missed_runs": skipped}
        else:
            if now - due > grace:
                reason = (
                    f"missed: due at {iso(due)}, the scheduler found it {(now - due).total_seconds():.0f} s "
                    f"later (grace {grace.total_seconds():.0f} s)"
                )
                fail_missed(cid, due, reason, now)
                log_event(log, "campaign missed", logging.WARNING, campaign_id=str(cid), reason=reason)
                return 0
            at, after, inc = due, {"state": "sending", "next_fire_at": None}, {}
        run_id = fire_id(cid, at)
        # False: created earlier (by a replica, or by us before a crash): the campaign update decides
        create_run(
            {
                "_id": run_id,
                "campaign_id": cid,
                "due_at": at,
                "state": "pending",
                "phase": "test" if campaign.get("ab_test") else "main",
                "checkpoint": {"last_id": None, "batch": 0},
                "targeted": {},
                "fired_at": now,
                "touched_at": now,
            }
        )
        sets = {**after, "current_run": run_id, "last_fired_at": now, "updated_at": now}
        if not fire_campaign(cid, due, sets, inc):
            return 0  # another replica fired it
        # A crash here (the run and the campaign written, campaign.due not published) is
        # recovered by sweep_stalled: the pending run is announced again after stalled_after_seconds.
        faults.point("after_write")
        self.outbox.publish(
            CampaignDue(campaign_id=str(cid), fire_id=run_id, due_at=iso(at)), message_id=f"due:{run_id}"
        )
        published = utcnow()
        mark_announced(run_id, published, (published - at).total_seconds())
        log_event(
            log,
            "campaign fired",
            campaign_id=str(cid),
            fire_id=run_id,
            lateness=(published - at).total_seconds(),
        )
        return 1

    def sweep_stalled(self, now: datetime.datetime) -> None:
        """Re-announce runs that nobody works on (a lost campaign.due); the worker's claim keeps it single."""
        stale = now - datetime.timedelta(seconds=self.settings.stalled_after_seconds)
        for run in stalled_runs(["pending", "sending"], stale, 100):
            if run_lease("").held(run, now):
                continue
            if campaign_state(run["campaign_id"]) != "sending":
                continue
            if touch_run(run, now):
                log_event(log, "stalled run re-announced", logging.WARNING, fire_id=run["_id"])
                self.outbox.publish(
                    CampaignDue(
                        campaign_id=str(run["campaign_id"]), fire_id=run["_id"], due_at=iso(run["due_at"])
                    )
                )


def run_forever(parts) -> None:
    """The ``scheduler`` part: an APScheduler interval job calling tick()."""
    import signal

    from apscheduler.schedulers.blocking import BlockingScheduler

    from shared.messaging.publisher import connect
    from shared.messaging.topology import Topology

    settings = parts.settings
    # Our own work queue exists before the first fire, even if no worker has started yet.
    with connect(settings.amqp_url) as conn:
        Topology(settings.broker_namespace).declare(conn.channel(), ["campaigns.campaign.due"])
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = Scheduler(parts)
    runner = BlockingScheduler(timezone="UTC")

    def tick():
        try:
            scheduler.tick()
        except Exception:  # noqa: BLE001 - a failed round must not stop the scheduler
            log.exception("scheduler round failed")

    runner.add_job(
        tick,
        "interval",
        seconds=settings.scheduler_poll_seconds,
        id="tick",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.datetime.now(datetime.UTC),
    )

    def stop(_signum, _frame):
        runner.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler %s polling every %.2f s", scheduler.holder, settings.scheduler_poll_seconds)
    runner.start()
    scheduler.release_lease()
