"""Whole-campaign validation, the same for creating and editing.

Shapes are checked by the API schemas; this module checks meaning against
the store: the segment exists, templates exist on the campaign's channel and
are not archived (asked of the mailer, their owner: ``templates.lookup``), A/B splits add up, the schedule is valid and in the future,
journey steps point at steps that exist. Errors name the field
(``shared.errors.Invalid``: 422).
"""

from __future__ import annotations

import datetime
import functools

from bson import ObjectId
from bson.errors import InvalidId

from services.campaigns.schedules import parse_schedule
from services.campaigns.store.journey_queries import segment_archived
from shared import normalize
from shared.errors import Invalid
from shared.models import TOPICS

BRANCH_CONDITIONS = ("opened", "clicked", "not_opened", "not_clicked")
REENTRY = ("never", "after_exit")


def object_id(raw, field: str) -> ObjectId:
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        raise Invalid(field, f"{raw!r} is not an id") from None


def check_segment(raw) -> ObjectId:
    oid = object_id(raw, "segment_id")
    archived = segment_archived(oid)
    if archived is None:
        raise Invalid("segment_id", f"unknown segment {raw}")
    if archived:
        raise Invalid("segment_id", f"segment {raw} is archived")
    return oid


def check_template(lookup, raw, channel: str, field: str) -> str:
    """``lookup``: template id -> {channel, archived} or None (``services.campaigns.templates``)."""
    oid = object_id(raw, field)
    template = lookup(str(oid))
    if template is None:
        raise Invalid(field, f"unknown template {raw}")
    if template.get("channel") != channel:
        raise Invalid(field, f"template {raw} is for {template.get('channel')}, the campaign is {channel}")
    if template.get("archived"):
        raise Invalid(field, f"template {raw} is archived")
    return str(oid)


def validate(data: dict, now: datetime.datetime, templates) -> dict:
    """The full campaign as stored (without lifecycle fields); raises ``Invalid`` naming the field
    (422), ``Unavailable`` (503) when the mailer cannot say whether a template exists. ``templates``: a
    ``services.campaigns.templates.Templates`` (anything with ``lookup``)."""
    check = functools.partial(check_template, templates.lookup)
    out = {"name": data["name"], "channel": data["channel"]}
    channel = data["channel"]
    if data.get("topic") not in TOPICS:
        raise Invalid("topic", f"must be one of {', '.join(TOPICS)}")
    out["topic"] = data["topic"]
    out["segment_id"] = check_segment(data["segment_id"]) if data.get("segment_id") else None

    schedule, first = (None, None)
    if data.get("schedule") is not None:
        schedule, first = parse_schedule(data["schedule"], now)
    out["schedule"] = schedule
    out["next_fire_at"] = first

    template_id, variants, journey = data.get("template_id"), data.get("variants") or [], data.get("journey")
    if template_id and variants:
        raise Invalid("variants", "give either template_id or variants, not both")
    out["template_id"] = check(template_id, channel, "template_id") if template_id else None
    out["variants"] = _variants(check, variants, channel)
    out["ab_test"] = _ab_test(data.get("ab_test"), variants)
    if journey is not None:
        if not schedule or schedule["kind"] != "trigger":
            raise Invalid("journey", "journeys start from an event: use a trigger schedule")
        if variants:
            raise Invalid("variants", "a journey sends the templates of its steps; A/B is not available")
        out["journey"] = _journey(check, journey, channel)
    else:
        out["journey"] = None
        if schedule and schedule["kind"] == "trigger" and variants:
            raise Invalid("variants", "A/B tests need a one-shot or recurring schedule")
    cost = data.get("cost")
    if cost is not None and cost < 0:
        raise Invalid("cost", "must be 0 or more")
    out["cost"] = cost
    out["currency"] = (data.get("currency") or "EUR").upper()
    goal = data.get("goal") or {}
    window = goal.get("window_hours", 72)
    if not isinstance(window, (int, float)) or isinstance(window, bool) or window <= 0:
        raise Invalid("goal.window_hours", "must be a number of hours greater than 0")
    out["goal"] = {"kind": "purchase", "window_hours": window}
    return out


def ready_to_schedule(campaign: dict) -> None:
    """What scheduling needs beyond a valid draft: audience, content, schedule."""
    schedule = campaign.get("schedule")
    if not schedule:
        raise Invalid("schedule", "is required to schedule a campaign")
    if schedule["kind"] != "trigger" and not campaign.get("segment_id"):
        raise Invalid("segment_id", "is required to schedule a campaign")
    if not (campaign.get("template_id") or campaign.get("variants") or campaign.get("journey")):
        raise Invalid("template_id", "a campaign needs a template_id, variants or journey steps")


def _variants(check, variants: list, channel: str) -> list:
    if not variants:
        return []
    if len(variants) < 2:
        raise Invalid("variants", "an A/B test needs at least two variants")
    names = [v["name"] for v in variants]
    if len(set(names)) != len(names):
        raise Invalid("variants", "variant names must be different")
    if round(sum(v["split"] for v in variants), 6) != 100:
        raise Invalid("variants", "splits must add up to 100")
    return [
        {
            "name": v["name"],
            "label": normalize.text(v.get("label")) or v["name"],
            "split": v["split"],
            "template_id": check(v["template_id"], channel, f"variants.{i}.template_id"),
        }
        for i, v in enumerate(variants)
    ]


def _ab_test(ab: dict | None, variants: list) -> dict | None:
    if not ab:
        return None
    if not variants:
        raise Invalid("ab_test", "needs variants")
    return {
        "test_share": ab.get("test_share", 20),
        "metric": ab.get("metric", "open"),
        "window_hours": ab.get("window_hours", 4),
        "min_sample": ab.get("min_sample", 100),
    }


def _journey(check, journey, channel: str) -> dict:
    if not isinstance(journey, dict) or not isinstance(journey.get("steps"), list) or not journey["steps"]:
        raise Invalid("journey.steps", "must be a non-empty list of steps")
    reentry = journey.get("reentry", "never")
    if reentry not in REENTRY:
        raise Invalid("journey.reentry", f"must be one of {', '.join(REENTRY)}")
    steps, ids, last_send = [], [], None
    raw_steps = journey["steps"]
    for i, raw in enumerate(raw_steps):
        where = f"journey.steps.{i}"
        if not isinstance(raw, dict):
            raise Invalid(where, "must be an object")
        sid = raw.get("id") or f"step{i + 1}"
        if not isinstance(sid, str) or sid in ids or sid == "end" or "@" in sid:
            raise Invalid(f"{where}.id", "must be a unique name (not 'end', no '@')")
        ids.append(sid)
        kind = raw.get("type")
        if kind == "send":
            steps.append(
                {
                    "id": sid,
                    "type": "send",
                    "template_id": check(raw.get("template_id"), channel, f"{where}.template_id"),
                }
            )
            last_send = sid
        elif kind == "wait":
            hours = raw.get("hours", 0) + 24 * raw.get("days", 0) + raw.get("minutes", 0) / 60
            if not isinstance(hours, (int, float)) or hours <= 0:
                raise Invalid(f"{where}.hours", "a wait needs hours, days or minutes greater than 0")
            steps.append({"id": sid, "type": "wait", "seconds": round(hours * 3600)})
        elif kind == "branch":
            cond = raw.get("if")
            if cond not in BRANCH_CONDITIONS:
                raise Invalid(f"{where}.if", f"must be one of {', '.join(BRANCH_CONDITIONS)}")
            of = raw.get("of", last_send)
            if of is None:
                raise Invalid(f"{where}.of", "a branch needs an earlier send step")
            steps.append(
                {
                    "id": sid,
                    "type": "branch",
                    "if": cond,
                    "of": of,
                    "then": raw.get("then"),
                    "else": raw.get("else"),
                }
            )
        else:
            raise Invalid(f"{where}.type", "must be send, wait or branch")
    for i, (raw, step) in enumerate(zip(raw_steps, steps)):
        if raw.get("next") is not None:
            if raw["next"] != "end" and raw["next"] not in ids:
                raise Invalid(f"journey.steps.{i}.next", f"unknown step {raw['next']!r}")
            step["next"] = raw["next"]
    send_ids = {s["id"] for s in steps if s["type"] == "send"}
    for i, step in enumerate(steps):
        if step["type"] != "branch":
            continue
        if step["of"] not in send_ids or ids.index(step["of"]) >= i:
            raise Invalid(f"journey.steps.{i}.of", f"{step['of']!r} is not an earlier send step")
        for key in ("then", "else"):
            target = step[key]
            if target is not None and target != "end" and target not in ids:
                raise Invalid(f"journey.steps.{i}.{key}", f"unknown step {target!r}")
    return {"steps": steps, "reentry": reentry}
