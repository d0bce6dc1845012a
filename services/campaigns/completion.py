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
from services.campaigns.store.campaign_queries import find_campaign
from services.campaigns.store.result_queries import count_terminal
from services.campaigns.store.run_queries import complete_run, run_targets, runs_awaiting_outcome, set_outcome
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
    for run in runs_awaiting_outcome(limit):
        campaign = find_campaign(run["campaign_id"], "schedule", "state", "current_run")
        cid = str(run["campaign_id"])
        if campaign is None:
            set_outcome(run["_id"], "cancelled")
            continue
        step = run_step(campaign, run["_id"])
        if step == "main":  # one-off: every run of the campaign (A/B test and rest) shares the step
            targeted = sum(sum(counts.values()) for counts in run_targets(run["campaign_id"]))
        else:
            targeted = sum((run.get("targeted") or {}).values())
        done = count_terminal(cid, step, TERMINAL)
        if done < targeted:
            continue
        if not complete_run(run["_id"], now):
            continue
        completed += 1
        if step == "main" and campaign.get("current_run") == run["_id"]:
            move(run["campaign_id"], ("sending",), {"state": "sent", "last_sent_at": now})
        log_event(
            log, "every delivery of the run is done", logging.INFO, fire_id=run["_id"], targeted=targeted
        )
    return completed
