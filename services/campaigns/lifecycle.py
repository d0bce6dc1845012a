"""The campaign lifecycle: every change of state is one conditional update.

    draft --schedule--> scheduled --(scheduler fires)--> sending --> sent
      ^                   |  ^                            |   \\--> failed
      +---unschedule------+  +--(recurring: run done)-----+
    scheduled | sending --pause--> paused --resume--> (the state it was paused in)
    draft | scheduled | sending | paused --cancel--> cancelled
    scheduled --(one-shot found past the misfire grace)--> failed (missed)
    sent --resend_failed--> sent (re-requests only the failed recipients)

A change that does not apply to the current state answers 409 with the
current state in ``details.current``. Because the update carries the
expected state in its filter, two concurrent requests cannot both win.
"""

from __future__ import annotations

from bson import ObjectId

from services.campaigns.models import campaigns
from shared.http.errors import conflict, not_found
from shared.store import utcnow

# action -> states it may start from
ACTIONS = {
    "schedule": ("draft",),
    "unschedule": ("scheduled",),
    "pause": ("scheduled", "sending"),
    "resume": ("paused",),
    "cancel": ("draft", "scheduled", "sending", "paused"),
    "resend_failed": ("sent",),
}
EDITABLE = ("draft", "scheduled", "paused")


def transition(
    campaign_id: ObjectId,
    action: str,
    sets: dict,
    extra: dict | None = None,
    allowed: tuple[str, ...] | None = None,
) -> dict:
    """Apply ``sets`` if the campaign is in a state ``action`` starts from; the updated document."""
    allowed = allowed or ACTIONS[action]
    query = {"_id": campaign_id, "state": {"$in": list(allowed)}, **(extra or {})}
    from pymongo import ReturnDocument

    updated = campaigns().find_one_and_update(
        query, {"$set": {**sets, "updated_at": utcnow()}}, return_document=ReturnDocument.AFTER
    )
    if updated is None:
        current = campaigns().find_one({"_id": campaign_id}, {"state": 1})
        if current is None:
            raise not_found("campaign", campaign_id)
        raise conflict(
            f"cannot {action.replace('_', ' ')} a campaign that is {current['state']}",
            current=current["state"],
            action=action,
            allowed_from=list(allowed),
        )
    return updated


def move(campaign_id, from_states: tuple[str, ...], sets: dict, extra: dict | None = None) -> bool:
    """Internal transitions (scheduler, worker): True if this caller made the change."""
    query = {"_id": campaign_id, "state": {"$in": list(from_states)}, **(extra or {})}
    return campaigns().update_one(query, {"$set": {**sets, "updated_at": utcnow()}}).modified_count == 1
