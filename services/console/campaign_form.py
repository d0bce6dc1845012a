"""The campaign form: the campaigns API's body from what was typed, and the form from a campaign.

``body_from_form`` reads the fields (audience, template, A/B variants with the
labels people read turned into keys, schedule (at a time, weekly, monthly,
cron or on an event), goal, journey) into the body the API takes, with the
errors only the console can see; ``form_from_campaign`` fills the form back
from a stored campaign (a cron that is weekly or monthly shown as such);
``choices`` lists the segments and templates to pick from. The routes and the
pages are services/console/views/campaigns.py.
"""

from __future__ import annotations

import json
import re
import unicodedata

from services.console.client import ApiFailure, api
from services.console.forms import json_field, named, number
from services.console.i18n import gettext as _
from services.console.journeys import journey_from_rows, journey_rows

VARIANT_ROWS = 3
# Days as cron numbers (0 = Sunday), Monday first as a calendar in Spain shows them.
WEEKDAYS = (
    ("1", "Monday"),
    ("2", "Tuesday"),
    ("3", "Wednesday"),
    ("4", "Thursday"),
    ("5", "Friday"),
    ("6", "Saturday"),
    ("0", "Sunday"),
)
WEEKLY = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* ([0-6](?:,[0-6])*)$")
MONTHLY = re.compile(r"^(\d{1,2}) (\d{1,2}) (\d{1,2}) \* \*$")


def _clock(value: str):
    """ "10:00" -> (10, 0), or None."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", (value or "").strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        return None
    return int(match.group(1)), int(match.group(2))


def _repeating(form, kind: str, errors: dict) -> str:
    """The cron expression of a weekly (days and time) or monthly (day and time) schedule."""
    clock = _clock(form.get("repeat_time", ""))
    if clock is None:
        errors["schedule.repeat_time"] = [_("Give the time as hours and minutes, like 10:00.")]
    if kind == "weekly":
        days = [day for day, _name in WEEKDAYS if day in form.getlist("repeat_days")]
        if not days:
            errors["schedule.repeat_days"] = [_("Choose at least one day.")]
        if clock is None or not days:
            return ""
        return f"{clock[1]} {clock[0]} * * {','.join(sorted(days, key=int))}"
    day = form.get("repeat_day_of_month", "").strip()
    if not day.isdigit() or not 1 <= int(day) <= 28:
        errors["schedule.repeat_day_of_month"] = [_("Choose a day from 1 to 28 (every month has it).")]
        return ""
    return "" if clock is None else f"{clock[1]} {clock[0]} {int(day)} * *"


def variant_key(label: str, taken: set[str], row: int) -> str:
    """The API's key of a variant (letters, digits, - and _) from the label people read:
    "Asunto con tilde ¿sí?" -> "asunto-con-tilde-si"; a label without a letter or digit gets
    "variant-<row>", and a key already taken by another label gets "-2", "-3"..."""
    bare = "".join(ch for ch in unicodedata.normalize("NFKD", label) if not unicodedata.combining(ch))
    key = re.sub(r"[^a-z0-9]+", "-", bare.lower()).strip("-")[:40].strip("-") or f"variant-{row + 1}"
    candidate, n = key, 2
    while candidate in taken:
        candidate, n = f"{key}-{n}", n + 1
    taken.add(candidate)
    return candidate


def body_from_form(form) -> tuple[dict, dict]:
    """The API's campaign body from the form; and console-side field errors (only JSON parsing)."""
    errors: dict[str, list[str]] = {}
    picked = (
        choices()
        if any(
            v and not re.fullmatch(r"[0-9a-f]{24}", v)
            for k, v in form.items()
            if k.endswith("template_id") or k == "segment_id"
        )
        else {"segments": [], "templates": []}
    )
    body = {
        "name": form.get("name", "").strip(),
        "channel": form.get("channel"),
        "topic": form.get("topic"),
        "segment_id": named(form.get("segment_id"), picked["segments"]),
        "template_id": named(form.get("template_id"), picked["templates"]),
        "cost": number(form.get("cost")),
        "currency": (form.get("currency") or "EUR").upper(),
    }
    variants, keys = [], set()
    for i in range(VARIANT_ROWS):
        label, template, split = (
            form.get(f"variant{i}_{k}", "").strip() for k in ("name", "template_id", "split")
        )
        if label or template or split:
            if not label:
                errors[f"variants.{i}.name"] = [_("Give this variant a name.")]
            elif len(label) > 100:
                errors[f"variants.{i}.name"] = [_("A variant's name has at most 100 characters.")]
            variants.append(
                {
                    "name": variant_key(label, keys, i),
                    "label": label,
                    "template_id": named(template, picked["templates"]) or "",
                    "split": number(split),
                }
            )
    body["variants"] = variants
    if variants:
        body["ab_test"] = {
            "test_share": number(form.get("ab_test_share")) or 20,
            "metric": form.get("ab_metric") or "open",
            "window_hours": number(form.get("ab_window_hours")) or 4,
            "min_sample": int(form.get("ab_min_sample") or 100),
        }
    else:
        body["ab_test"] = None
    kind = form.get("schedule_kind") or ""
    zone = form.get("time_zone") or "UTC"
    if kind == "now":
        body["schedule"] = {"kind": "now"}
    elif kind == "at":
        body["schedule"] = {"kind": "at", "at": form.get("at", ""), "time_zone": zone}
    elif kind == "cron":
        body["schedule"] = {"kind": "cron", "cron": form.get("cron", "").strip(), "time_zone": zone}
    elif kind in ("weekly", "monthly"):
        body["schedule"] = {"kind": "cron", "cron": _repeating(form, kind, errors), "time_zone": zone}
    elif kind == "trigger":
        schedule = {
            "kind": "trigger",
            "event": form.get("event", "").strip(),
            "delay_seconds": number(form.get("delay_seconds")) or 0,
        }
        if form.get("trigger_filter", "").strip():
            schedule["filter"] = json_field(form["trigger_filter"], "schedule.filter", errors)
        body["schedule"] = schedule
    else:
        body["schedule"] = None
    goal_hours = number(form.get("goal_window_hours"))
    body["goal"] = {"kind": "purchase", "window_hours": goal_hours} if goal_hours else None
    if form.get("journey_mode") == "json":  # the advanced view
        text = form.get("journey", "").strip()
        body["journey"] = json_field(text, "journey", errors) if text else None
    else:
        body["journey"] = journey_from_rows(form, picked, errors)
    return body, errors


def form_from_campaign(c: dict) -> dict:
    """The form's values for an existing campaign."""
    form = {
        "name": c["name"],
        "channel": c["channel"],
        "topic": c["topic"],
        "segment_id": c.get("segment_id") or "",
        "template_id": c.get("template_id") or "",
        "cost": c.get("cost") if c.get("cost") is not None else "",
        "currency": c.get("currency") or "EUR",
    }
    for i, variant in enumerate((c.get("variants") or [])[:VARIANT_ROWS]):
        form.update(
            {
                f"variant{i}_name": variant.get("label") or variant["name"],
                f"variant{i}_template_id": variant["template_id"],
                f"variant{i}_split": variant["split"],
            }
        )
    if c.get("ab_test"):
        ab = c["ab_test"]
        form.update(
            ab_test_share=ab.get("test_share"),
            ab_metric=ab.get("metric"),
            ab_window_hours=ab.get("window_hours"),
            ab_min_sample=ab.get("min_sample"),
        )
    schedule = c.get("schedule") or {}
    form["schedule_kind"] = schedule.get("kind", "")
    form["time_zone"] = schedule.get("time_zone") or "Europe/Madrid"
    form["at"] = (schedule.get("local") or schedule.get("at") or "")[:16]
    form["cron"] = schedule.get("cron", "")
    weekly, monthly = WEEKLY.match(form["cron"]), MONTHLY.match(form["cron"])
    if form["schedule_kind"] == "cron" and (weekly or monthly):
        found = weekly or monthly
        form["schedule_kind"] = "weekly" if weekly else "monthly"
        form["repeat_time"] = f"{int(found.group(2)):02d}:{int(found.group(1)):02d}"
        if weekly:
            form["repeat_days"] = weekly.group(3).split(",")
        else:
            form["repeat_day_of_month"] = monthly.group(3)
    form["event"] = schedule.get("event", "")
    form["delay_seconds"] = schedule.get("delay_seconds", "")
    form["trigger_filter"] = json.dumps(schedule["filter"]) if schedule.get("filter") else ""
    form["goal_window_hours"] = (c.get("goal") or {}).get("window_hours", "")
    form.update(journey_rows(c.get("journey")))
    return form


def choices():
    """Segments and templates to pick from, when those services answer (else free text)."""
    found = {"segments": [], "templates": []}
    for key, service, path in (("segments", "segments", "/segments"), ("templates", "mailer", "/templates")):
        try:
            found[key] = getattr(api(), service).get(path, limit=200).get("items", [])
        except ApiFailure:
            pass
    return found
