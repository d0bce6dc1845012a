"""Fan-out: campaign.due -> send.requested batches, with a checkpoint.

The worker claims the run (``worker`` + ``worker_until``, renewed with every
batch), then reads the audience in ascending customer id order after the
run's checkpoint. For each batch it publishes one send.requested per variant
(message id ``<run>:<phase>:<batch>:<variant>``), then moves the checkpoint
(last customer id, batch number) with an update conditional on the batch
number and on still holding the claim. A crash before that update means the
same batch is published again with the same message ids after the restart
(the mailer's consumer drops message ids it has handled, and its unique
Delivery per campaign, recipient and step is the last guard); a crash after
it means the next batch starts after the stored id: nothing is skipped.

Between batches the campaign's state is read again: paused or cancelled stops
the fan-out (resume re-announces the run, which continues from the
checkpoint). A redelivered campaign.due whose run another worker holds waits
up to the claim's lifetime for it to be released or to expire, so a
restarted worker takes over a crashed one's run.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import time
import uuid

from services.campaigns.completion import run_step
from services.campaigns.content import assign, is_marketing, template_for
from services.campaigns.lifecycle import move
from services.campaigns.store import run_lease
from services.campaigns.store.campaign_queries import find_campaign
from services.campaigns.store.journey_queries import find_segment
from services.campaigns.store.run_queries import find_run
from shared import faults
from shared.audience import iter_audience
from shared.logs import event as log_event
from shared.messaging.consumer import Poison
from shared.messaging.contracts import CampaignDue, Envelope, SendRequested
from shared.store import utcnow

log = logging.getLogger(__name__)
ACTIVE = ["pending", "sending"]


class FanOut:
    def __init__(self, settings, outbox):
        self.settings = settings
        self.outbox = outbox
        self.me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = run_lease(self.me, settings.fanout_lease_seconds)

    def claim(self, run_id: str) -> bool:
        now = utcnow()
        claimed = self.lease.claim(
            {"_id": run_id, "state": {"$in": ACTIVE}}, now=now, state="sending", touched_at=now
        )
        return claimed is not None

    def release(self, run_id: str, **sets) -> None:
        self.lease.release(run_id, **sets)

    def on_due(self, envelope: Envelope) -> None:
        """campaigns.campaign.due: fan the run out from its checkpoint."""
        event: CampaignDue = envelope.event()
        run = find_run(event.fire_id)
        if run is None:
            raise Poison(f"unknown run {event.fire_id}")
        deadline = time.monotonic() + self.settings.fanout_lease_seconds + 1
        while not self.claim(event.fire_id):
            current = find_run(event.fire_id, "state")
            if current["state"] not in ACTIVE or time.monotonic() > deadline:
                return  # finished, paused, or a live worker holds it (it renews): nothing to do
            time.sleep(0.25)
        try:
            self.fan_out(find_run(event.fire_id))
        except Exception:
            self.release(event.fire_id)  # let a retry or another worker continue at once
            raise

    def fan_out(self, run: dict) -> None:
        run_id, phase = run["_id"], run.get("phase", "main")
        campaign = find_campaign(run["campaign_id"])
        if campaign is None:
            self.release(run_id, state="cancelled")
            return
        segment = find_segment(campaign.get("segment_id"))
        if segment is None:
            self.release(run_id, state="failed")
            move(
                campaign["_id"],
                ("sending",),
                {"state": "failed", "failure_reason": "the segment no longer exists"},
            )
            return
        winner = (run.get("ab") or {}).get("winner")
        checkpoint = run.get("checkpoint") or {}
        batch_no = checkpoint.get("batch", 0)
        targeted = dict(run.get("targeted") or {})
        cid = str(campaign["_id"])
        step = run_step(campaign, run_id)
        for ids in self.batches(segment, checkpoint.get("last_id")):
            state = find_campaign(campaign["_id"], "state")["state"]
            if state != "sending":
                self.release(run_id, state="paused" if state == "paused" else "cancelled")
                log_event(log, "fan-out stopped", fire_id=run_id, campaign_state=state, batch=batch_no)
                return
            by_variant: dict[str | None, list[str]] = {}
            for oid in ids:
                customer = str(oid)
                group, variant = assign(campaign, customer)
                if phase == "test" and group != "test":
                    continue
                if phase == "rest":
                    if group != "rest":
                        continue
                    variant = winner
                by_variant.setdefault(variant, []).append(customer)
            for variant, people in sorted(by_variant.items(), key=lambda item: item[0] or ""):
                self.outbox.publish(
                    SendRequested(
                        campaign_id=cid,
                        channel=campaign["channel"],
                        topic=campaign["topic"],
                        template_id=template_for(campaign, "main", variant),
                        customer_ids=people,
                        step=step,
                        variant=variant,
                        marketing=is_marketing(campaign),
                        batch=batch_no,
                    ),
                    message_id=f"{run_id}:{phase}:{batch_no}:{variant or '-'}",
                )
            faults.point("after_publish")  # published, checkpoint not moved: the batch goes again
            now = utcnow()
            for variant, people in by_variant.items():
                targeted[variant or "-"] = targeted.get(variant or "-", 0) + len(people)
            # The whole counter map is set (not $inc'ed): the update is conditional on the batch number
            # and our claim, so the counts move exactly with the checkpoint. ($inc on a nested field
            # in an update that also sets a datetime is broken in the store stand-in.)
            moved = self.lease.renew(
                run_id,
                where={"checkpoint.batch": batch_no},
                now=now,
                checkpoint={"last_id": ids[-1], "batch": batch_no + 1},
                targeted=targeted,
                touched_at=now,
            )
            if not moved:
                log_event(log, "fan-out claim lost", logging.WARNING, fire_id=run_id, batch=batch_no)
                return
            batch_no += 1
        self.finish(run, campaign)

    def batches(self, segment, after):
        """Message-sized batches of the audience, read from the store in larger pages.

        Reading fewer, larger pages matters on stores where each query costs a
        scan (the stand-in); the checkpoint still moves per message.
        """
        size = self.settings.fanout_batch_size
        for page in iter_audience(
            segment,
            after=after,
            batch_size=max(self.settings.fanout_read_size, size),
            max_time_ms=self.settings.rule_max_time_ms,
        ):
            for start in range(0, len(page), size):
                yield page[start : start + size]

    def finish(self, run: dict, campaign: dict) -> None:
        now = utcnow()
        if run.get("phase") == "test":
            window = datetime.timedelta(hours=campaign["ab_test"]["window_hours"])
            self.release(run["_id"], state="waiting_winner", **{"ab.decide_at": now + window})
            log_event(log, "A/B test sent; waiting for the window", fire_id=run["_id"])
            return
        # Every batch is published; the run is sent once every delivery is terminal (completion.py).
        self.release(run["_id"], state="done", finished_at=now, outcome="sending")
        if campaign["schedule"]["kind"] == "cron":
            move(
                campaign["_id"],
                ("sending",),
                {"state": "scheduled", "last_sent_at": now},
                extra={"current_run": run["_id"]},
            )
        log_event(log, "fan-out finished", fire_id=run["_id"])
