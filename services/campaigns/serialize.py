"""Stored campaign documents <-> the API's JSON."""

from __future__ import annotations

import datetime


def iso(value: datetime.datetime | None) -> str | None:
    if value is None:
        return None
    return value.replace(tzinfo=datetime.UTC).isoformat()


def schedule_out(schedule: dict | None) -> dict | None:
    if not schedule:
        return None
    out = dict(schedule)
    if schedule.get("kind") == "at":
        out["at_utc"] = iso(schedule["at"])
        out["at"] = schedule.get("local")
        out = {k: v for k, v in out.items() if k != "local"}
    return out


def campaign_out(doc: dict) -> dict:
    return {
        "id": str(doc["_id"]),
        "name": doc["name"],
        "channel": doc["channel"],
        "topic": doc["topic"],
        "segment_id": str(doc["segment_id"]) if doc.get("segment_id") else None,
        "template_id": doc.get("template_id"),
        "variants": doc.get("variants") or [],
        "ab_test": doc.get("ab_test"),
        "schedule": schedule_out(doc.get("schedule")),
        "cost": doc.get("cost"),
        "currency": doc.get("currency"),
        "goal": doc.get("goal"),
        "journey": doc.get("journey"),
        "state": doc["state"],
        "paused_from": doc.get("paused_from"),
        "failure_reason": doc.get("failure_reason"),
        "next_fire_at": iso(doc.get("next_fire_at")),
        "current_run": doc.get("current_run"),
        "missed_runs": doc.get("missed_runs", 0),
        "created_at": iso(doc.get("created_at")),
        "updated_at": iso(doc.get("updated_at")),
    }


def input_form(doc: dict) -> dict:
    """A stored campaign in the shape the API takes, to validate an edit as a whole."""
    schedule = doc.get("schedule")
    if schedule and schedule.get("kind") == "at":
        schedule = {"kind": "at", "at": schedule["local"], "time_zone": schedule.get("time_zone")}
    journey = doc.get("journey")
    if journey:
        journey = {
            "reentry": journey.get("reentry", "never"),
            "steps": [
                {**step, "minutes": step["seconds"] / 60} if step["type"] == "wait" else step
                for step in journey["steps"]
            ],
        }
        for step in journey["steps"]:
            step.pop("seconds", None)
    return {
        "name": doc["name"],
        "channel": doc["channel"],
        "topic": doc["topic"],
        "segment_id": str(doc["segment_id"]) if doc.get("segment_id") else None,
        "template_id": doc.get("template_id"),
        "variants": doc.get("variants") or [],
        "ab_test": doc.get("ab_test"),
        "schedule": schedule,
        "cost": doc.get("cost"),
        "currency": doc.get("currency"),
        "goal": doc.get("goal"),
        "journey": journey,
    }
