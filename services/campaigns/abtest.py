"""A/B winner choice.

A run of an A/B campaign first fans out to the test share only (each
customer's group and variant come from a hash of their id: content.py).
``window_hours`` after that fan-out ends, the scheduler (lease holder)
chooses the winner from the delivery facts and re-announces the run, which
then fans out to the rest of the audience with the winner's template.

The rule, by the chosen metric (unique opens or unique clicks per delivered
message, delivered = sent - bounced):

* small samples: if any variant has fewer than ``min_sample`` delivered
  messages, the first variant listed wins (reason ``small_sample``): it is
  the control, and too few sends say nothing;
* ties: when the best rate is shared, the first listed of the tied variants
  wins (reason ``tie``);
* otherwise the highest rate wins (reason ``best_rate``).

The choice is stored on the run (``ab.winner``, ``ab.reason``, ``ab.stats``);
the claim is the run's conditional move ``waiting_winner -> sending``.
"""

from __future__ import annotations

import logging

from services.campaigns.serialize import iso
from services.campaigns.store.campaign_queries import find_campaign
from services.campaigns.store.result_queries import bucket_counts
from services.campaigns.store.run_queries import cancel_waiting_run, runs_to_decide, start_rest
from shared.logs import event as log_event
from shared.messaging.contracts import CampaignDue

log = logging.getLogger(__name__)


def variant_stats(campaign: dict) -> dict[str, dict]:
    cid = str(campaign["_id"])
    stats = {v["name"]: {"sent": 0, "bounced": 0, "opened": 0, "clicked": 0} for v in campaign["variants"]}
    for bucket, n in bucket_counts(cid):
        variant, _, kind = bucket.rpartition("|")
        if variant in stats and kind in stats[variant]:
            stats[variant][kind] += n
    for row in stats.values():
        row["delivered"] = max(row["sent"] - row["bounced"], 0)
    return stats


def choose_winner(campaign: dict, stats: dict[str, dict]) -> tuple[str, str, dict]:
    ab = campaign["ab_test"]
    counted = "opened" if ab["metric"] == "open" else "clicked"
    names = [v["name"] for v in campaign["variants"]]
    for row in stats.values():
        row["rate"] = round(row[counted] / row["delivered"], 6) if row["delivered"] else 0.0
    if any(stats[name]["delivered"] < ab["min_sample"] for name in names):
        return names[0], "small_sample", stats
    best = max(stats[name]["rate"] for name in names)
    leaders = [name for name in names if stats[name]["rate"] == best]
    return leaders[0], ("tie" if len(leaders) > 1 else "best_rate"), stats


def decide_due(scheduler, now) -> None:
    for run in runs_to_decide(now, 50):
        campaign = find_campaign(run["campaign_id"])
        if campaign is None or campaign["state"] == "cancelled":
            cancel_waiting_run(run["_id"])
            continue
        if campaign["state"] != "sending":
            continue  # paused: decide after resume
        winner, reason, stats = choose_winner(campaign, variant_stats(campaign))
        claimed = start_rest(run["_id"], {"winner": winner, "reason": reason, "stats": stats}, now)
        if claimed:
            log_event(log, "A/B winner chosen", fire_id=run["_id"], winner=winner, reason=reason)
            scheduler.outbox.publish(
                CampaignDue(
                    campaign_id=str(run["campaign_id"]), fire_id=run["_id"], due_at=iso(run["due_at"])
                ),
                message_id=f"due:{run['_id']}:rest",
            )
