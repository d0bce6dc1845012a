"""Campaign runs: created once per fire (the ``_id`` is the claim), announced, fanned out,
decided (A/B), completed; and a campaign's runs page by page."""

from __future__ import annotations

import datetime

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from services.campaigns.store.collections import fields, run_lease, runs


def find_run(run_id: str, *only: str) -> dict | None:
    return runs().find_one({"_id": run_id}, fields(*only))


def create_run(doc: dict) -> bool:
    """Insert a run; False when it exists (created by a replica, or by us before a crash)."""
    try:
        runs().insert_one(doc)
    except DuplicateKeyError:
        return False
    return True


def mark_announced(run_id: str, at: datetime.datetime, lateness: float) -> None:
    """campaign.due was published for the run at ``at``, ``lateness`` seconds after its due time."""
    runs().update_one({"_id": run_id}, {"$set": {"announced_at": at, "lateness": lateness}})


def stalled_runs(states: list[str], stale: datetime.datetime, limit: int = 100) -> list[dict]:
    """Runs in ``states`` nobody touched since ``stale`` (with their lease fields)."""
    return list(
        runs()
        .find(
            {"state": {"$in": states}, "touched_at": {"$lt": stale}},
            {"campaign_id": 1, "due_at": 1, "touched_at": 1, "worker": 1, "worker_until": 1},
        )
        .limit(limit)
    )


def touch_run(run: dict, now: datetime.datetime) -> bool:
    """Move the run's ``touched_at`` to ``now`` if it is still the one read; True if this call did."""
    touched = runs().update_one(
        {"_id": run["_id"], "touched_at": run["touched_at"]}, {"$set": {"touched_at": now}}
    )
    return bool(touched.modified_count)


def resume_run(run_id: str, now: datetime.datetime) -> dict | None:
    """A paused run sends again (if it was paused); the run's due time (``due_at``)."""
    runs().update_one({"_id": run_id, "state": "paused"}, {"$set": {"state": "sending", "touched_at": now}})
    return runs().find_one({"_id": run_id}, {"due_at": 1})


def runs_page(campaign_id: ObjectId, before: str | None, limit: int) -> tuple[list[dict], int]:
    """Up to ``limit + 1`` runs of a campaign, latest first, with ids below ``before``; and how
    many runs it has. (A run's id is "<campaign>:<due time>", so within one campaign id order
    is due-time order.)"""
    mine = {"campaign_id": campaign_id}
    paged = {**mine, "_id": {"$lt": before}} if before else mine
    rows = list(runs().find(paged).sort("_id", -1).limit(limit + 1))
    return rows, runs().count_documents(mine)


def run_targets(campaign_id: ObjectId) -> list[dict]:
    """What each run of the campaign targeted (variant or "-" -> recipients)."""
    return [run.get("targeted") or {} for run in runs().find({"campaign_id": campaign_id}, {"targeted": 1})]


# --- A/B -------------------------------------------------------------------------------


def runs_to_decide(now: datetime.datetime, limit: int = 50) -> list[dict]:
    """Runs waiting for their A/B winner whose window is over."""
    return list(runs().find({"state": "waiting_winner", "ab.decide_at": {"$lte": now}}).limit(limit))


def cancel_waiting_run(run_id: str) -> None:
    runs().update_one({"_id": run_id, "state": "waiting_winner"}, {"$set": {"state": "cancelled"}})


def start_rest(run_id: str, ab: dict, now: datetime.datetime) -> bool:
    """The winner is chosen (``ab``: winner, reason, stats): the run fans out to the rest of the
    audience from the start, free of any lease; True if this call moved it."""
    claimed = runs().update_one(
        {"_id": run_id, "state": "waiting_winner"},
        {
            "$set": {
                "state": "sending",
                "phase": "rest",
                "checkpoint": {"last_id": None, "batch": 0},
                "touched_at": now,
                **{f"ab.{key}": value for key, value in ab.items()},
                "ab.decided_at": now,
            },
            "$unset": run_lease("").vacant(),
        },
    )
    return bool(claimed.modified_count)


# --- completion ------------------------------------------------------------------------


def runs_awaiting_outcome(limit: int) -> list[dict]:
    """Runs fully fanned out whose deliveries are not all terminal yet."""
    return list(
        runs().find({"state": "done", "outcome": "sending"}, {"campaign_id": 1, "targeted": 1}).limit(limit)
    )


def set_outcome(run_id: str, outcome: str) -> None:
    runs().update_one({"_id": run_id}, {"$set": {"outcome": outcome}})


def complete_run(run_id: str, now: datetime.datetime) -> bool:
    """sending -> sent; True if this call made it."""
    moved = runs().update_one(
        {"_id": run_id, "outcome": "sending"}, {"$set": {"outcome": "sent", "completed_at": now}}
    )
    return moved.modified_count == 1
