"""Lifecycle actions on a campaign: schedule, unschedule, pause, resume, cancel, resend to failed."""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import current_app

from services.campaigns.api.campaigns import READERS, WRITERS, load, templates
from services.campaigns.api.schemas import ActionOut, RunList, RunsQuery
from services.campaigns.content import is_marketing, template_for
from services.campaigns.lifecycle import ACTIONS, move, transition
from services.campaigns.models import facts, runs
from services.campaigns.serialize import campaign_out, input_form, iso
from services.campaigns.validation import ready_to_schedule, validate
from shared.http.auth import roles
from shared.http.errors import conflict
from shared.http.paging import raw_cursor
from shared.messaging.contracts import CampaignDue, SendRequested
from shared.store import utcnow

bp = APIBlueprint("campaign_actions", __name__, url_prefix="/campaigns", tag="campaigns")


def announcer():
    return current_app.extensions["campaigns_announcer"]


@bp.post("/<campaign_id>/schedule")
@bp.output(ActionOut)
@roles(*WRITERS)
def schedule(campaign_id):
    """Draft -> scheduled; the whole campaign is validated again (segment, templates, time)."""
    doc = load(campaign_id)
    if doc["state"] not in ACTIONS["schedule"]:
        raise conflict(
            f"cannot schedule a campaign that is {doc['state']}",
            current=doc["state"],
            action="schedule",
            allowed_from=list(ACTIONS["schedule"]),
        )
    stored = validate(input_form(doc), utcnow(), templates())
    ready_to_schedule(stored)
    updated = transition(
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
    return {"campaign": campaign_out(updated)}


@bp.post("/<campaign_id>/unschedule")
@bp.output(ActionOut)
@roles(*WRITERS)
def unschedule(campaign_id):
    """Scheduled -> draft (it will not fire)."""
    doc = load(campaign_id)
    return {
        "campaign": campaign_out(
            transition(doc["_id"], "unschedule", {"state": "draft", "next_fire_at": None})
        )
    }


@bp.post("/<campaign_id>/pause")
@bp.output(ActionOut)
@roles(*WRITERS)
def pause(campaign_id):
    """Scheduled or sending -> paused; a fan-out in progress stops before its next batch."""
    doc = load(campaign_id)
    for state in ACTIONS["pause"]:
        if move(doc["_id"], (state,), {"state": "paused", "paused_from": state}):
            return {"campaign": campaign_out(load(campaign_id))}
    current = load(campaign_id)["state"]
    raise conflict(
        f"cannot pause a campaign that is {current}",
        current=current,
        action="pause",
        allowed_from=list(ACTIONS["pause"]),
    )


@bp.post("/<campaign_id>/resume")
@bp.output(ActionOut)
@roles(*WRITERS)
def resume(campaign_id):
    """Paused -> the state it was paused in; a fan-out continues from its checkpoint."""
    doc = load(campaign_id)
    back = doc.get("paused_from") or "scheduled"
    updated = transition(
        doc["_id"], "resume", {"state": back, "paused_from": None}, extra={"paused_from": back}
    )
    run_id = updated.get("current_run")
    if back == "sending" and run_id:
        runs().update_one(
            {"_id": run_id, "state": "paused"}, {"$set": {"state": "sending", "touched_at": utcnow()}}
        )
        run = runs().find_one({"_id": run_id}, {"due_at": 1})
        announcer().publish(CampaignDue(campaign_id=campaign_id, fire_id=run_id, due_at=iso(run["due_at"])))
    return {"campaign": campaign_out(updated)}


@bp.post("/<campaign_id>/cancel")
@bp.output(ActionOut)
@roles(*WRITERS)
def cancel(campaign_id):
    """Draft, scheduled, sending or paused -> cancelled; nothing more is sent."""
    doc = load(campaign_id)
    return {
        "campaign": campaign_out(
            transition(doc["_id"], "cancel", {"state": "cancelled", "next_fire_at": None})
        )
    }


@bp.post("/<campaign_id>/resend-failed")
@bp.output(ActionOut)
@roles(*WRITERS)
def resend_failed(campaign_id):
    """Request again only the recipients whose delivery failed (and was not sent since)."""
    doc = load(campaign_id)
    updated = transition(doc["_id"], "resend_failed", {"last_resend_at": utcnow()})
    cid = str(doc["_id"])
    failed = list(
        facts().find(
            {"campaign_id": cid, "type": "failed"},
            {"delivery_id": 1, "customer_id": 1, "step": 1, "variant": 1},
        )
    )
    recovered = {
        f["delivery_id"]
        for f in facts().find(
            {"campaign_id": cid, "type": "sent", "delivery_id": {"$in": [f["delivery_id"] for f in failed]}},
            {"delivery_id": 1},
        )
    }
    groups: dict[tuple, list[str]] = {}
    for fact in failed:
        if fact["delivery_id"] not in recovered:
            groups.setdefault((fact.get("step") or "main", fact.get("variant")), []).append(
                fact["customer_id"]
            )
    requested = 0
    for (step, variant), people in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        template = template_for(updated, step, variant)
        for start in range(0, len(people), 1000):
            batch = sorted(set(people))[start : start + 1000]
            announcer().publish(
                SendRequested(
                    campaign_id=cid,
                    channel=updated["channel"],
                    topic=updated["topic"],
                    template_id=template,
                    customer_ids=batch,
                    step=step,
                    variant=variant,
                    marketing=is_marketing(updated),
                    batch=start // 1000,
                    retry_failed=True,
                )
            )
            requested += len(batch)
    return {"campaign": campaign_out(updated), "requested": requested}


@bp.get("/<campaign_id>/runs")
@bp.input(RunsQuery, location="query")
@bp.output(RunList)
@roles(*READERS)
def list_runs(campaign_id, query_data):
    """The fires of a campaign, latest first, with their fan-out progress."""
    doc = load(campaign_id)
    # A run's id is "<campaign>:<due time>", so within one campaign id order is due-time order.
    mine = {"campaign_id": doc["_id"]}
    _, after = raw_cursor(query_data)
    paged = {**mine, "_id": {"$lt": after}} if after else mine
    rows = list(runs().find(paged).sort("_id", -1).limit(query_data["limit"] + 1))
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
    return {"items": items, "total": runs().count_documents(mine), "next": following}


def _ab_out(ab):
    if not ab:
        return None
    return {**ab, "decide_at": iso(ab.get("decide_at"))}
