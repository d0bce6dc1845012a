"""The campaign lifecycle: every change of state is one conditional update.

    draft --schedule--> scheduled --(scheduler fires)--> sending --> sent
      ^                   |  ^                            |   \\--> failed
      +---unschedule------+  +--(recurring: run done)-----+
    scheduled | sending --pause--> paused --resume--> (the state it was paused in)
    draft | scheduled | sending | paused --cancel--> cancelled
    scheduled --(one-shot found past the misfire grace)--> failed (missed)
    sent --resend_failed--> sent (re-requests only the failed recipients)

A change that does not apply to the current state raises ``Conflict`` (409) with
the current state in ``details.current``. Because the update carries the
expected state in its filter, two concurrent requests cannot both win.

The marketer's actions (``schedule``, ``unschedule``, ``pause``, ``resume``,
``cancel``) take the campaign as read and answer it as updated; ``resume`` of a
fan-out paused part-way announces its run again (campaign.due, through the
outbox), and the fan-out continues from its checkpoint.
"""

from __future__ import annotations

from bson import ObjectId

from services.campaigns.serialize import input_form, iso
from services.campaigns.store.campaign_queries import (
    campaign_state,
    change_campaign,
    find_campaign,
    move_campaign,
)
from services.campaigns.store.run_queries import resume_run
from services.campaigns.validation import ready_to_schedule, validate
from shared.errors import Conflict, NotFound
from shared.messaging.contracts import CampaignDue
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
    updated = change_campaign(campaign_id, list(allowed), {**sets, "updated_at": utcnow()}, extra)
    if updated is None:
        current = campaign_state(campaign_id)
        if current is None:
            raise NotFound("campaign", campaign_id)
        raise refuse(action, current, allowed)
    return updated


def move(campaign_id, from_states: tuple[str, ...], sets: dict, extra: dict | None = None) -> bool:
    """Internal transitions (scheduler, worker): True if this caller made the change."""
    return move_campaign(campaign_id, list(from_states), {**sets, "updated_at": utcnow()}, extra)


def load(campaign_id: ObjectId, raw=None) -> dict:
    """The campaign, or ``NotFound`` naming ``raw`` (the id as given) or the id."""
    doc = find_campaign(campaign_id)
    if doc is None:
        raise NotFound("campaign", campaign_id if raw is None else raw)
    return doc


def refuse(action: str, current: str, allowed: tuple[str, ...]) -> Conflict:
    return Conflict(
        f"cannot {action.replace('_', ' ')} a campaign that is {current}",
        current=current,
        action=action,
        allowed_from=list(allowed),
    )


def schedule(doc: dict, templates) -> dict:
    """Draft -> scheduled; the whole campaign is validated again (segment, templates, time)."""
    if doc["state"] not in ACTIONS["schedule"]:
        raise refuse("schedule", doc["state"], ACTIONS["schedule"])
    stored = validate(input_form(doc), utcnow(), templates)
    ready_to_schedule(stored)
    return transition(
        doc["_id"],
        "schedule",
        {
            "state": "scheduled",
            "schedule": stored["schedule"],
            "next_fire_at": stored["next_fire_at"],
            "failure_reason": None,
            "paused_from": None,
        },
    )


def unschedule(doc: dict) -> dict:
    return transition(doc["_id"], "unschedule", {"state": "draft", "next_fire_at": None})


def pause(doc: dict) -> dict:
    """Scheduled or sending -> paused; a fan-out in progress stops before its next batch.
    The campaign as read again after the change."""
    for state in ACTIONS["pause"]:
        if move(doc["_id"], (state,), {"state": "paused", "paused_from": state}):
            return load(doc["_id"], str(doc["_id"]))
    raise refuse("pause", load(doc["_id"], str(doc["_id"]))["state"], ACTIONS["pause"])


def resume(doc: dict, parts) -> dict:
    """Paused -> the state it was paused in; a fan-out paused part-way is announced again
    (through ``parts.outbox``)."""
    back = doc.get("paused_from") or "scheduled"
    updated = transition(
        doc["_id"], "resume", {"state": back, "paused_from": None}, extra={"paused_from": back}
    )
    run_id = updated.get("current_run")
    if back == "sending" and run_id:
        run = resume_run(run_id, utcnow())
        parts.outbox.publish(
            CampaignDue(campaign_id=str(doc["_id"]), fire_id=run_id, due_at=iso(run["due_at"]))
        )
    return updated


def cancel(doc: dict) -> dict:
    return transition(doc["_id"], "cancel", {"state": "cancelled", "next_fire_at": None})
