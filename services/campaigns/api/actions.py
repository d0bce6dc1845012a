"""Lifecycle actions on a campaign: schedule, unschedule, pause, resume, cancel, resend to failed."""

from __future__ import annotations

from apiflask import APIBlueprint

from services.campaigns import lifecycle
from services.campaigns.api.campaigns import READERS, WRITERS, load, templates
from services.campaigns.api.schemas import ActionOut, RunList, RunsQuery
from services.campaigns.resend import resend_failed as resend
from services.campaigns.serialize import campaign_out, iso
from services.campaigns.store.run_queries import runs_page
from shared.bootstrap import current
from shared.http.auth import roles
from shared.http.paging import raw_cursor

bp = APIBlueprint("campaign_actions", __name__, url_prefix="/campaigns", tag="campaigns")


@bp.post("/<campaign_id>/schedule")
@bp.output(ActionOut)
@roles(*WRITERS)
def schedule(campaign_id):
    """Draft -> scheduled; the whole campaign is validated again (segment, templates, time)."""
    return {"campaign": campaign_out(lifecycle.schedule(load(campaign_id), templates()))}


@bp.post("/<campaign_id>/unschedule")
@bp.output(ActionOut)
@roles(*WRITERS)
def unschedule(campaign_id):
    """Scheduled -> draft (it will not fire)."""
    return {"campaign": campaign_out(lifecycle.unschedule(load(campaign_id)))}


@bp.post("/<campaign_id>/pause")
@bp.output(ActionOut)
@roles(*WRITERS)
def pause(campaign_id):
    """Scheduled or sending -> paused; a fan-out in progress stops before its next batch."""
    return {"campaign": campaign_out(lifecycle.pause(load(campaign_id)))}


@bp.post("/<campaign_id>/resume")
@bp.output(ActionOut)
@roles(*WRITERS)
def resume(campaign_id):
    """Paused -> the state it was paused in; a fan-out continues from its checkpoint."""
    return {"campaign": campaign_out(lifecycle.resume(load(campaign_id), current()))}


@bp.post("/<campaign_id>/cancel")
@bp.output(ActionOut)
@roles(*WRITERS)
def cancel(campaign_id):
    """Draft, scheduled, sending or paused -> cancelled; nothing more is sent."""
    return {"campaign": campaign_out(lifecycle.cancel(load(campaign_id)))}


@bp.post("/<campaign_id>/resend-failed")
@bp.output(ActionOut)
@roles(*WRITERS)
def resend_failed(campaign_id):
    """Request again only the recipients whose delivery failed (and was not sent since)."""
    updated, requested = resend(load(campaign_id), current())
    return {"campaign": campaign_out(updated), "requested": requested}


@bp.get("/<campaign_id>/runs")
@bp.input(RunsQuery, location="query")
@bp.output(RunList)
@roles(*READERS)
def list_runs(campaign_id, query_data):
    """The fires of a campaign, latest first, with their fan-out progress."""
    doc = load(campaign_id)
    _, after = raw_cursor(query_data)
    rows, total = runs_page(doc["_id"], after, query_data["limit"])
    following = rows[query_data["limit"] - 1]["_id"] if len(rows) > query_data["limit"] else None
    rows = rows[: query_data["limit"]]
    items = [
        {
            "id": r["_id"],
            "state": r["state"],
            "phase": r.get("phase", "main"),
            "due_at": iso(r["due_at"]),
            "fired_at": iso(r.get("fired_at")),
            "finished_at": iso(r.get("finished_at")),
            "checkpoint": {
                **(r.get("checkpoint") or {}),
                "last_id": str((r.get("checkpoint") or {}).get("last_id") or "") or None,
            },
            "targeted": r.get("targeted") or {},
            "ab": _ab_out(r.get("ab")),
        }
        for r in rows
    ]
    return {"items": items, "total": total, "next": following}


def _ab_out(ab):
    if not ab:
        return None
    return {**ab, "decide_at": iso(ab.get("decide_at"))}
