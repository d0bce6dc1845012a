"""Campaigns: create, read, edit (validated like creating), delete drafts."""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import current_app
from pymongo import ReturnDocument

from services.campaigns.api.schemas import CampaignIn, CampaignList, CampaignOut, ListQuery
from services.campaigns.lifecycle import EDITABLE
from services.campaigns.models import campaigns
from services.campaigns.serialize import campaign_out, input_form
from services.campaigns.validation import ready_to_schedule, validate
from shared.http.auth import roles
from shared.http.errors import conflict, not_found
from shared.http.paging import cursor_id, object_id
from shared.store import utcnow

bp = APIBlueprint("campaigns", __name__, url_prefix="/campaigns", tag="campaigns")

WRITERS = ("marketer",)
READERS = ("marketer", "analyst")


def templates():
    """The mailer's answers about templates (``services.campaigns.templates``)."""
    return current_app.extensions["campaigns_templates"]


def load(campaign_id: str) -> dict:
    doc = campaigns().find_one({"_id": object_id(campaign_id, "campaign")})
    if doc is None:
        raise not_found("campaign", campaign_id)
    return doc


@bp.post("")
@bp.input(CampaignIn, arg_name="data")
@bp.output(CampaignOut, status_code=201)
@roles(*WRITERS)
def create_campaign(data):
    """Create a campaign as a draft."""
    now = utcnow()
    stored = validate(data, now, templates())
    stored.pop("next_fire_at")
    stored.update(state="draft", created_at=now, updated_at=now, missed_runs=0)
    stored["_id"] = campaigns().insert_one(stored).inserted_id
    return campaign_out(stored)


@bp.get("")
@bp.input(ListQuery, location="query", arg_name="query")
@bp.output(CampaignList)
@roles(*READERS)
def list_campaigns(query):
    """List campaigns, newest first, with an opaque cursor."""
    base = {"state": query["state"]} if query.get("state") else {}
    page = dict(base)
    after = cursor_id(query)
    if after:
        page["_id"] = {"$lt": after}
    docs = list(campaigns().find(page).sort("_id", -1).limit(query["limit"] + 1))
    more = len(docs) > query["limit"]
    docs = docs[: query["limit"]]
    return {
        "items": [campaign_out(d) for d in docs],
        "total": campaigns().count_documents(base),
        "next": str(docs[-1]["_id"]) if more else None,
    }


@bp.get("/<campaign_id>")
@bp.output(CampaignOut)
@roles(*READERS)
def get_campaign(campaign_id):
    """One campaign."""
    return campaign_out(load(campaign_id))


@bp.patch("/<campaign_id>")
@bp.input(CampaignIn(partial=True), arg_name="data")
@bp.output(CampaignOut)
@roles(*WRITERS)
def edit_campaign(campaign_id, data):
    """Edit a draft, scheduled or paused campaign; the result is validated as a whole."""
    doc = load(campaign_id)
    if doc["state"] not in EDITABLE:
        raise conflict(
            f"a {doc['state']} campaign cannot be edited", current=doc["state"], allowed_from=list(EDITABLE)
        )
    merged = {**input_form(doc), **data}
    # A fan-out paused part-way keeps its (past) schedule unless the edit changes it: fixing a
    # template typo mid-send must not fail on "schedule.at is in the past".
    keep_schedule = (
        doc["state"] == "paused" and doc.get("paused_from") == "sending" and "schedule" not in data
    )
    if keep_schedule:
        merged["schedule"] = None
    now = utcnow()
    stored = validate(merged, now, templates())
    if keep_schedule:
        stored["schedule"], stored["next_fire_at"] = doc["schedule"], doc.get("next_fire_at")
    if doc["state"] == "scheduled" or (doc["state"] == "paused" and doc.get("paused_from") == "scheduled"):
        ready_to_schedule(stored)
    elif doc["state"] == "draft":
        stored["next_fire_at"] = None
    stored["updated_at"] = now
    # Conditional on the version read: a concurrent edit or a fire in between answers 409.
    updated = campaigns().find_one_and_update(
        {"_id": doc["_id"], "state": doc["state"], "updated_at": doc["updated_at"]},
        {"$set": stored},
        return_document=ReturnDocument.AFTER,
    )
    if updated is None:
        current = campaigns().find_one({"_id": doc["_id"]}, {"state": 1}) or {"state": "deleted"}
        raise conflict(
            "the campaign changed while it was being edited; read it again", current=current["state"]
        )
    return campaign_out(updated)


@bp.delete("/<campaign_id>")
@bp.output({}, status_code=204)
@roles(*WRITERS)
def delete_campaign(campaign_id):
    """Delete a draft or cancelled campaign."""
    doc = load(campaign_id)
    deleted = campaigns().delete_one({"_id": doc["_id"], "state": {"$in": ["draft", "cancelled"]}})
    if deleted.deleted_count == 0:
        current = campaigns().find_one({"_id": doc["_id"]}, {"state": 1}) or {"state": "deleted"}
        raise conflict(
            f"a {current['state']} campaign cannot be deleted (cancel it first)",
            current=current["state"],
            allowed_from=["draft", "cancelled"],
        )
    return ""
