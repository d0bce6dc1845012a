"""Creating, editing and deleting a campaign: the rules around ``validation.validate``.

* A new campaign is a draft (its first fire time is set when it is scheduled).
* A draft, scheduled or paused campaign can be edited; the result is validated as
  a whole, and a scheduled one (or one paused while scheduled) must still be ready
  to schedule. A fan-out paused part-way keeps its (past) schedule unless the edit
  changes it: fixing a template typo mid-send must not fail on "schedule.at is in
  the past". The write is conditional on the version read: a concurrent edit or a
  fire in between is a ``Conflict``.
* Only a draft or cancelled campaign can be deleted.
"""

from __future__ import annotations

from services.campaigns.lifecycle import EDITABLE
from services.campaigns.serialize import input_form
from services.campaigns.store.campaign_queries import (
    campaign_state,
    delete_campaign_in,
    insert_campaign,
    update_campaign_as_read,
)
from services.campaigns.validation import ready_to_schedule, validate
from shared.errors import Conflict
from shared.store import utcnow

DELETABLE = ["draft", "cancelled"]


def create(data: dict, templates) -> dict:
    """The new draft as stored (with its ``_id``)."""
    now = utcnow()
    stored = validate(data, now, templates)
    stored.pop("next_fire_at")
    stored.update(state="draft", created_at=now, updated_at=now, missed_runs=0)
    stored["_id"] = insert_campaign(stored)
    return stored


def edit(doc: dict, data: dict, templates) -> dict:
    """``doc`` (as read) changed by ``data``; the campaign as updated."""
    if doc["state"] not in EDITABLE:
        raise Conflict(
            f"a {doc['state']} campaign cannot be edited", current=doc["state"], allowed_from=list(EDITABLE)
        )
    merged = {**input_form(doc), **data}
    keep_schedule = (
        doc["state"] == "paused" and doc.get("paused_from") == "sending" and "schedule" not in data
    )
    if keep_schedule:
        merged["schedule"] = None
    now = utcnow()
    stored = validate(merged, now, templates)
    if keep_schedule:
        stored["schedule"], stored["next_fire_at"] = doc["schedule"], doc.get("next_fire_at")
    if doc["state"] == "scheduled" or (doc["state"] == "paused" and doc.get("paused_from") == "scheduled"):
        ready_to_schedule(stored)
    elif doc["state"] == "draft":
        stored["next_fire_at"] = None
    stored["updated_at"] = now
    updated = update_campaign_as_read(doc, stored)
    if updated is None:
        current = campaign_state(doc["_id"]) or "deleted"
        raise Conflict("the campaign changed while it was being edited; read it again", current=current)
    return updated


def delete(doc: dict) -> None:
    if not delete_campaign_in(doc["_id"], DELETABLE):
        current = campaign_state(doc["_id"]) or "deleted"
        raise Conflict(
            f"a {current} campaign cannot be deleted (cancel it first)",
            current=current,
            allowed_from=list(DELETABLE),
        )
