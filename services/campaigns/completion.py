"""When a campaign is really sent: every delivery terminal, not merely every batch published.

A run's fan-out ends with the run ``done`` and its ``outcome`` ``sending``. Each
scheduler tick compares what the run targeted with the delivery facts the mailer
announced for it (sent, skipped, failed: each a terminal state of one delivery). When
they meet, the run's outcome becomes ``sent`` and a one-off campaign moves from
``sending`` to ``sent``. Until then the campaign shows ``sending`` with counts, and the
results say how many are still pending; deliveries stuck in the mailer stay visible there.

Recurring (cron) campaigns send each run as its own step (``main@<fire time>``), so a
weekly newsletter reaches its audience every week and each run completes on its own.
"""

from __future__ import annotations

import datetime
import logging

from services.campaigns.lifecycle import move
from services.campaigns.store import campaigns, facts, runs
from shared.logs import event as log_event

log = logging.getLogger(__name__)
TERMINAL = ["sent", "skipped", "failed"]


def run_step(campaign: dict, run_id: str) -> str:
    """The delivery step of a run: one per fire for recurring campaigns, else ``main``."""
    if (campaign.get("schedule") or {}).get("kind") == "cron":
        return f"main@{run_id.rsplit(':', 1)[1]}"
    return "main"


def complete_runs(now: datetime.datetime, limit: int = 200) -> int:
    """Move the runs whose every delivery is terminal to ``sent``; returns how many."""
    completed = 0
    for run in list(
        runs().find({"state": "done", "outcome": "sending"}, {"campaign_id": 1, "targeted": 1}).limit(limit)
    ):
        campaign = campaigns().find_one(
            {"_id": run["campaign_id"]}, {"schedule": 1, "state": 1, "current_run": 1}
        )
        cid = str(run["campaign_id"])
        if campaign is None:
            runs().update_one({"_id": run["_id"]}, {"$set": {"outcome": "cancelled"}})
            continue
        step = run_step(campaign, run["_id"])
        if step == "main":  # one-off: every run of the campaign (A/B test and rest) shares the step
            targeted = sum(
                sum((r.get("targeted") or {}).values())
                for r in runs().find({"campaign_id": run["campaign_id"]}, {"targeted": 1})
            )
        else:
            targeted = sum((run.get("targeted") or {}).values())
        done = facts().count_documents({"campaign_id": cid, "step": step, "type": {"$in": TERMINAL}})
        if done < targeted:
            continue
        if (
            runs()
            .update_one(
                {"_id": run["_id"], "outcome": "sending"}, {"$set": {"outcome": "sent", "completed_at": now}}
            )
            .modified_count
            != 1
        ):
            continue
        completed += 1
        if step == "main" and campaign.get("current_run") == run["_id"]:
            move(run["campaign_id"], ("sending",), {"state": "sent", "last_sent_at": now})
        log_event(
            log, "every delivery of the run is done", logging.INFO, fire_id=run["_id"], targeted=targeted
        )
    return completed
