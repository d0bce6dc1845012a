"""Campaigns: read, page, insert, delete, and every change of state as one conditional update."""

from __future__ import annotations

import datetime

from bson import ObjectId
from pymongo import ReturnDocument

from services.campaigns.store.collections import campaigns, fields


def find_campaign(campaign_id: ObjectId, *only: str) -> dict | None:
    """The campaign (only the fields named, when any are), or None."""
    return campaigns().find_one({"_id": campaign_id}, fields(*only))


def campaign_exists(campaign_id: ObjectId) -> bool:
    return campaigns().find_one({"_id": campaign_id}, {"_id": 1}) is not None


def campaign_state(campaign_id: ObjectId) -> str | None:
    """The campaign's state now; None when it is gone."""
    current = campaigns().find_one({"_id": campaign_id}, {"state": 1})
    return None if current is None else current["state"]


def insert_campaign(doc: dict) -> ObjectId:
    return campaigns().insert_one(doc).inserted_id


def campaigns_page(state: str | None, after: ObjectId | None, limit: int) -> tuple[list[dict], int]:
    """Up to ``limit + 1`` campaigns (in ``state`` if given), newest first, older than ``after``;
    and how many there are in all."""
    base = {"state": state} if state else {}
    page = dict(base)
    if after:
        page["_id"] = {"$lt": after}
    docs = list(campaigns().find(page).sort("_id", -1).limit(limit + 1))
    return docs, campaigns().count_documents(base)


def update_campaign_as_read(doc: dict, sets: dict) -> dict | None:
    """Set ``sets`` if the campaign is still in the state and version (``updated_at``) of ``doc``;
    the updated campaign, or None when it changed in between."""
    return campaigns().find_one_and_update(
        {"_id": doc["_id"], "state": doc["state"], "updated_at": doc["updated_at"]},
        {"$set": sets},
        return_document=ReturnDocument.AFTER,
    )


def delete_campaign_in(campaign_id: ObjectId, states: list[str]) -> bool:
    """Delete the campaign if it is in one of ``states``; True if deleted."""
    return campaigns().delete_one({"_id": campaign_id, "state": {"$in": states}}).deleted_count == 1


def change_campaign(campaign_id, states: list[str], sets: dict, extra: dict | None = None) -> dict | None:
    """Set ``sets`` if the campaign is in one of ``states`` (and matches ``extra``); the campaign
    updated, or None when it is not."""
    return campaigns().find_one_and_update(
        {"_id": campaign_id, "state": {"$in": states}, **(extra or {})},
        {"$set": sets},
        return_document=ReturnDocument.AFTER,
    )


def move_campaign(campaign_id, states: list[str], sets: dict, extra: dict | None = None) -> bool:
    """Like ``change_campaign`` without reading it back; True if this call made the change."""
    query = {"_id": campaign_id, "state": {"$in": states}, **(extra or {})}
    return campaigns().update_one(query, {"$set": sets}).modified_count == 1


# --- the scheduler's fires ------------------------------------------------------------


def due_campaigns(now: datetime.datetime, kinds: list[str], limit: int = 500) -> list[dict]:
    """Scheduled campaigns of schedule ``kinds`` whose next fire time has come, earliest first."""
    return list(
        campaigns()
        .find({"state": "scheduled", "next_fire_at": {"$lte": now}, "schedule.kind": {"$in": kinds}})
        .sort("next_fire_at", 1)
        .limit(limit)
    )


def _unfired(campaign_id, due: datetime.datetime) -> dict:
    """Still scheduled for the fire time read: the claim on that fire."""
    return {"_id": campaign_id, "state": "scheduled", "next_fire_at": due}


def fire_campaign(campaign_id, due: datetime.datetime, sets: dict, inc: dict | None = None) -> bool:
    """Claim the fire at ``due`` (setting ``sets``, adding ``inc``); False if another replica did."""
    update = {"$set": sets}
    if inc:
        update["$inc"] = inc
    return campaigns().update_one(_unfired(campaign_id, due), update).modified_count == 1


def skip_fires(campaign_id, due: datetime.datetime, upcoming, missed: int, now: datetime.datetime) -> None:
    """A recurring campaign's missed fires are counted and its next fire is ``upcoming``."""
    campaigns().update_one(
        _unfired(campaign_id, due),
        {"$set": {"next_fire_at": upcoming, "updated_at": now}, "$inc": {"missed_runs": missed}},
    )


def fail_missed(campaign_id, due: datetime.datetime, reason: str, now: datetime.datetime) -> None:
    """A one-shot campaign found too late is failed with ``reason``."""
    campaigns().update_one(
        _unfired(campaign_id, due), {"$set": {"state": "failed", "failure_reason": reason, "updated_at": now}}
    )


# --- journeys -------------------------------------------------------------------------


def listening_campaigns(event_type: str) -> list[dict]:
    """Scheduled campaigns triggered by ``event_type``."""
    return list(
        campaigns().find({"state": "scheduled", "schedule.kind": "trigger", "schedule.event": event_type})
    )


def count_journey_send(campaign_id) -> None:
    campaigns().update_one({"_id": campaign_id}, {"$inc": {"journey_sent": 1}})
