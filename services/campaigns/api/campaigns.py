"""Campaigns: create, read, edit (validated like creating), delete drafts."""

from __future__ import annotations

from apiflask import APIBlueprint

from services.campaigns import editing, lifecycle
from services.campaigns.api.schemas import CampaignIn, CampaignList, CampaignOut, ListQuery
from services.campaigns.serialize import campaign_out
from services.campaigns.store.campaign_queries import campaigns_page
from shared.bootstrap import current
from shared.http.auth import roles
from shared.http.paging import cursor_id, object_id

bp = APIBlueprint("campaigns", __name__, url_prefix="/campaigns", tag="campaigns")

WRITERS = ("marketer",)
READERS = ("marketer", "analyst")


def templates():
    """The mailer's answers about templates (``services.campaigns.templates``)."""
    return current().templates


def load(campaign_id: str) -> dict:
    return lifecycle.load(object_id(campaign_id, "campaign"), campaign_id)


@bp.post("")
@bp.input(CampaignIn, arg_name="data")
@bp.output(CampaignOut, status_code=201)
@roles(*WRITERS)
def create_campaign(data):
    """Create a campaign as a draft."""
    return campaign_out(editing.create(data, templates()))


@bp.get("")
@bp.input(ListQuery, location="query", arg_name="query")
@bp.output(CampaignList)
@roles(*READERS)
def list_campaigns(query):
    """List campaigns, newest first, with an opaque cursor."""
    docs, total = campaigns_page(query.get("state"), cursor_id(query), query["limit"])
    more = len(docs) > query["limit"]
    docs = docs[: query["limit"]]
    return {
        "items": [campaign_out(d) for d in docs],
        "total": total,
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
    return campaign_out(editing.edit(load(campaign_id), data, templates()))


@bp.delete("/<campaign_id>")
@bp.output({}, status_code=204)
@roles(*WRITERS)
def delete_campaign(campaign_id):
    """Delete a draft or cancelled campaign."""
    editing.delete(load(campaign_id))
    return ""
