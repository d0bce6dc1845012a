"""Campaigns: list with progress, create/edit, schedule, actions, results with charts."""

from __future__ import annotations

import json
import re
import unicodedata
import zoneinfo

from flask import Blueprint, abort, redirect, render_template, request, url_for

from services.console import charts, cron
from services.console.client import ApiFailure, ServiceUnavailable, api
from services.console.forms import api_errors, json_field
from services.console.i18n import gettext as _
from services.console.security import may, requires
from shared.models import TOPICS

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")

STATES = ("draft", "scheduled", "sending", "paused", "sent", "cancelled", "failed")
# action -> (states it applies to, destructive: asks to confirm)
ACTIONS = {
    "schedule": (("draft",), False),
    "unschedule": (("scheduled",), False),
    "pause": (("scheduled", "sending"), False),
    "resume": (("paused",), False),
    "cancel": (("draft", "scheduled", "sending", "paused"), True),
    "resend-failed": (("sent", "sending", "paused"), True),
}
VARIANT_ROWS = 3
# The journey editor: one row per step (the steps there are, and a few empty ones to add more).
JOURNEY_TYPES = ("send", "wait", "branch")
BRANCH_IFS = ("opened", "clicked", "not_opened", "not_clicked")
WAIT_UNITS = (("days", 86400), ("hours", 3600), ("minutes", 60))
JOURNEY_SPARE_ROWS = 3
# Why a delivery was not (yet) sent, as the mailer records it: code -> what a marketer reads.
REASONS = {
    "no_consent": "no consent for this topic",
    "consent_pending": "double opt-in not confirmed yet",
    "consent_revoked": "consent revoked",
    "suppressed": "suppressed (bounce, complaint or do-not-contact)",
    "erased": "erased",
    "no_address": "no address for this channel",
    "invalid_address": "invalid address",
    "smtputf8_unsupported": "the mail relay cannot send to an international address",
    "quiet_hours": "in quiet hours (sent when they end)",
    "capped": "frequency cap reached",
    "paused": "paused their marketing mail",
    "provider_rejected": "rejected by the provider",
    "provider_unavailable": "the provider did not answer",
    "build_error": "the message could not be built",
    "template_error": "the template could not be rendered",
    "abandoned": "no outcome after every attempt",
    "unknown_customer": "customer not found",
    "not_transactional_topic": "not a transactional topic",
}
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


def _named(value: str | None, items: list[dict]) -> str | None:
    """An id as it is; a name typed instead of an id, as the id of the one item with that name."""
    value = (value or "").strip()
    if not value or re.fullmatch(r"[0-9a-f]{24}", value):
        return value or None
    found = [item["id"] for item in items if item.get("name", "").strip().lower() == value.lower()]
    return found[0] if len(found) == 1 else value  # none or several: the service names the field


def _float(value):
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return value  # the service names the field


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
        _choices()
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
        "segment_id": _named(form.get("segment_id"), picked["segments"]),
        "template_id": _named(form.get("template_id"), picked["templates"]),
        "cost": _float(form.get("cost")),
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
                    "template_id": _named(template, picked["templates"]) or "",
                    "split": _float(split),
                }
            )
    body["variants"] = variants
    if variants:
        body["ab_test"] = {
            "test_share": _float(form.get("ab_test_share")) or 20,
            "metric": form.get("ab_metric") or "open",
            "window_hours": _float(form.get("ab_window_hours")) or 4,
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
            "delay_seconds": _float(form.get("delay_seconds")) or 0,
        }
        if form.get("trigger_filter", "").strip():
            schedule["filter"] = json_field(form["trigger_filter"], "schedule.filter", errors)
        body["schedule"] = schedule
    else:
        body["schedule"] = None
    goal_hours = _float(form.get("goal_window_hours"))
    body["goal"] = {"kind": "purchase", "window_hours": goal_hours} if goal_hours else None
    if form.get("journey_mode") == "json":  # the advanced view
        text = form.get("journey", "").strip()
        body["journey"] = json_field(text, "journey", errors) if text else None
    else:
        body["journey"] = journey_from_rows(form, picked, errors)
    return body, errors


def journey_from_rows(form, picked: dict, errors: dict) -> dict | None:
    """The journey of the step rows (a row without a type is left out); None without steps.
    Errors the console can see (a wait without a number) go to ``errors`` under the API's names."""
    steps = []
    for i in range(int(form.get("journey_rows") or 0)):
        kind = form.get(f"step{i}_type", "")
        if kind not in JOURNEY_TYPES:
            continue
        where = f"journey.steps.{len(steps)}"
        step: dict = {"type": kind}
        name = form.get(f"step{i}_id", "").strip()
        if name:
            step["id"] = name
        if kind == "send":
            step["template_id"] = _named(form.get(f"step{i}_template_id", "").strip(), picked["templates"])
        elif kind == "wait":
            amount, unit = _float(form.get(f"step{i}_amount")), form.get(f"step{i}_unit")
            if not isinstance(amount, float) or amount <= 0:
                errors[f"{where}.hours"] = [_("Say how long to wait: a number greater than 0.")]
            step[unit if unit in dict(WAIT_UNITS) else "hours"] = amount if isinstance(amount, float) else 0
        else:
            step["if"] = form.get(f"step{i}_if") or ""
            for key in ("of", "then", "else"):
                target = form.get(f"step{i}_{key}", "").strip()
                if target:
                    step[key] = target
        following = form.get(f"step{i}_next", "").strip()
        if following:
            step["next"] = following
        steps.append(step)
    if not steps:
        return None
    return {"steps": steps, "reentry": form.get("journey_reentry") or "never"}


def journey_rows(journey: dict | None) -> dict:
    """The form's step rows of a stored journey (waits stored in seconds read back in the
    largest whole unit), and the journey as JSON the API takes back (waits in those units)."""
    form: dict = {"journey_reentry": (journey or {}).get("reentry", "never")}
    steps = []
    for i, step in enumerate((journey or {}).get("steps") or []):
        row = {
            f"step{i}_type": step["type"],
            f"step{i}_id": step.get("id", ""),
            f"step{i}_next": step.get("next") or "",
        }
        shown = {k: v for k, v in step.items() if k != "seconds" and v is not None}
        if step["type"] == "send":
            row[f"step{i}_template_id"] = step.get("template_id", "")
        elif step["type"] == "wait":
            seconds = step.get("seconds") or 0
            unit, size = next(((u, n) for u, n in WAIT_UNITS if seconds % n == 0), ("minutes", 60))
            amount = seconds / size
            amount = int(amount) if amount.is_integer() else round(amount, 2)
            row.update({f"step{i}_amount": amount, f"step{i}_unit": unit})
            shown[unit] = amount
        else:
            row.update({f"step{i}_{k}": step.get(k) or "" for k in ("if", "of", "then", "else")})
        form.update(row)
        steps.append(shown)
    form["journey_rows"] = len(steps)
    form["journey"] = (
        json.dumps({"steps": steps, "reentry": form["journey_reentry"]}, indent=2, ensure_ascii=False)
        if steps
        else ""
    )
    return form


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


def _choices():
    """Segments and templates to pick from, when those services answer (else free text)."""
    found = {"segments": [], "templates": []}
    for key, service, path in (("segments", "segments", "/segments"), ("templates", "mailer", "/templates")):
        try:
            found[key] = getattr(api(), service).get(path, limit=200).get("items", [])
        except ApiFailure:
            pass
    return found


@bp.get("")
@requires("campaigns")
def index():
    state = request.args.get("state") if request.args.get("state") in STATES else None
    page = api().campaigns.get("/campaigns", state=state, limit=50, cursor=request.args.get("cursor"))
    progress = {}
    for campaign in page["items"]:
        if campaign["state"] in ("sending", "paused"):
            try:
                progress[campaign["id"]] = api().campaigns.get(f"/campaigns/{campaign['id']}/results")
            except ApiFailure:
                pass
    refresh = any(c["state"] == "sending" for c in page["items"])
    return render_template(
        "campaigns/index.html", page=page, state=state, states=STATES, figures=progress, refresh=refresh
    )


def _edit_page(campaign, form, errors, message, status=200):
    return render_template(
        "campaigns/form.html",
        campaign=campaign,
        form=form,
        errors=errors,
        message=message,
        topics=TOPICS,
        variant_rows=VARIANT_ROWS,
        journey_rows=int(form.get("journey_rows") or 0) + JOURNEY_SPARE_ROWS,
        journey_types=[(k, _(f"step_{k}")) for k in JOURNEY_TYPES],
        branch_ifs=[(k, _(f"branch_{k}")) for k in BRANCH_IFS],
        reentries=[(k, _(f"reentry_{k}")) for k in ("never", "after_exit")],
        wait_units=[unit for unit, _size in WAIT_UNITS],
        choices=_choices(),
        weekdays=WEEKDAYS,
        zones=sorted(zoneinfo.available_timezones()),
        cron_words=cron.describe(form.get("cron", "")) if form.get("cron") else "",
        next_runs=cron.next_runs(form.get("cron", ""), form.get("time_zone") or "UTC")
        if form.get("schedule_kind") in ("cron", "weekly", "monthly")
        else [],
    ), status


@bp.route("/new", methods=["GET", "POST"])
@requires("campaigns_write")
def create():
    if request.method == "GET":
        return _edit_page(
            None,
            {"channel": "email", "topic": "newsletter", "currency": "EUR", "time_zone": "Europe/Madrid"},
            {},
            None,
        )
    body, errors = body_from_form(request.form)
    if not errors:
        try:
            created = api().campaigns.post("/campaigns", body)
            return redirect(url_for("campaigns.show", campaign_id=created["id"]))
        except ApiFailure as exc:
            if exc.status != 422:
                raise
            errors, message = api_errors(exc)
            return _edit_page(None, request.form, errors, message, 422)
    return _edit_page(None, request.form, errors, _("Please correct the marked fields."), 422)


@bp.route("/<campaign_id>/edit", methods=["GET", "POST"])
@requires("campaigns_write")
def edit(campaign_id):
    campaign = api().campaigns.get(f"/campaigns/{campaign_id}")
    if request.method == "GET":
        return _edit_page(campaign, form_from_campaign(campaign), {}, None)
    body, errors = body_from_form(request.form)
    if not errors:
        try:
            api().campaigns.patch(f"/campaigns/{campaign_id}", body)
            return redirect(url_for("campaigns.show", campaign_id=campaign_id))
        except ApiFailure as exc:
            if exc.status not in (409, 422):
                raise
            return _edit_page(campaign, request.form, *api_errors(exc), exc.status)
    return _edit_page(campaign, request.form, errors, _("Please correct the marked fields."), 422)


def _charts(results: dict, timeline: dict, labels: dict[str, str] | None = None) -> dict:
    out = {}
    points = timeline.get("points") or []
    if points:
        labels = [p.get("at", p.get("bucket", ""))[5:16].replace("T", " ") for p in points]
        keys = ("sent", "opened", "clicked")  # the timeline counts sends, not deliveries
        out["timeline"] = charts.line_chart(
            labels,
            {k: [p.get(k, 0) for p in points] for k in keys},
            _("Over time"),
            {k: _(k.capitalize()) for k in keys},
        )
    variants = results.get("variants") or []
    if variants:
        keys = ("sent", "opened", "clicked")
        out["variants"] = charts.bar_chart(
            [(labels or {}).get(v["variant"], v["variant"]) for v in variants],
            {k: [v.get(k, 0) for v in variants] for k in keys},
            _("Per variant"),
            {k: _(k.capitalize()) for k in keys},
        )
    if results.get("cost") is not None or results.get("revenue"):
        out["money"] = charts.bar_chart(
            [_("Revenue"), _("Cost")],
            {"amount": [results.get("revenue") or 0, results.get("cost") or 0]},
            _("Revenue and cost"),
            {"amount": results.get("currency") or ""},
        )
    return out


@bp.get("/<campaign_id>")
@requires("campaigns")
def show(campaign_id):
    campaign = api().campaigns.get(f"/campaigns/{campaign_id}")
    results = api().campaigns.get(f"/campaigns/{campaign_id}/results")
    schedule = campaign.get("schedule") or {}
    zone = schedule.get("time_zone") or "UTC"
    timeline = api().campaigns.get(
        f"/campaigns/{campaign_id}/results/timeline", bucket="hour", time_zone=zone
    )
    runs = api().campaigns.get(f"/campaigns/{campaign_id}/runs", limit=10)
    actions = (
        [
            name
            for name, (states, _destructive) in ACTIONS.items()
            if campaign["state"] in states and (name != "resend-failed" or results.get("failed", 0) > 0)
        ]
        if may("campaigns_write")
        else []
    )
    return render_template(
        "campaigns/show.html",
        c=campaign,
        results=results,
        runs=runs,
        actions=actions,
        zone=zone,
        audience=_audience(campaign),
        reasons=REASONS,
        destructive={name for name, (_s, d) in ACTIONS.items() if d},
        charts=_charts(
            results,
            timeline,
            {v["name"]: v.get("label") or v["name"] for v in campaign.get("variants") or []},
        ),
        cron_words=cron.describe(schedule.get("cron", "")) if schedule.get("kind") == "cron" else "",
        next_runs=cron.next_runs(schedule["cron"], zone) if schedule.get("kind") == "cron" else [],
        refresh=campaign["state"] == "sending",
        names=_names(campaign),
    )


def _audience(campaign: dict) -> dict | None:
    """Before it is sent: how many of the segment the campaign would reach, and why not the others
    (the mailer's reachability, computed by the send-time rules). None after, or when unavailable."""
    if campaign["state"] not in ("draft", "scheduled", "paused") or not campaign.get("segment_id"):
        return None
    try:
        return api().mailer.post(
            "/reachability",
            json={
                "segment_id": campaign["segment_id"],
                "channel": campaign["channel"],
                "topic": campaign["topic"],
            },
        )
    except (ApiFailure, ServiceUnavailable):
        return None


def _names(campaign: dict) -> dict[str, str]:
    """Segment and template id -> name, for the ids the campaign refers to.

    An id the user's role may not read, or whose service does not answer,
    stays out: the page then shows the id itself.
    """
    wanted = [("segments", "segments", campaign.get("segment_id"))]
    wanted += [
        ("mailer", "templates", template_id)
        for template_id in {
            campaign.get("template_id"),
            *(v.get("template_id") for v in campaign.get("variants") or []),
        }
    ]
    names = {}
    silent: set[str] = set()  # a service that did not answer is not asked again for this page
    for service, path, ref in wanted:
        if not ref or service in silent:
            continue
        try:
            names[ref] = getattr(api(), service).get(f"/{path}/{ref}")["name"]
        except ServiceUnavailable:
            silent.add(service)
        except (ApiFailure, KeyError, TypeError):
            continue
    return names


@bp.get("/<campaign_id>/progress")
@requires("campaigns")
def progress(campaign_id):
    """The progress figures as JSON, for the page's small poll script."""
    campaign = api().campaigns.get(f"/campaigns/{campaign_id}")
    results = api().campaigns.get(f"/campaigns/{campaign_id}/results")
    return {
        "state": campaign["state"],
        "targeted": results.get("targeted", 0),
        "sent": results.get("sent", 0),
        "delivered": results.get("delivered", 0),
        "failed": results.get("failed", 0),
        "skipped": results.get("skipped", 0),
        "pending": results.get("pending", 0),
    }


@bp.post("/<campaign_id>/<action>")
@requires("campaigns_write")
def act(campaign_id, action):
    if action not in ACTIONS:
        abort(404)
    if ACTIONS[action][1] and request.form.get("confirmed") != "yes":
        campaign = api().campaigns.get(f"/campaigns/{campaign_id}")
        return render_template(
            "confirm.html",
            what=campaign["name"],
            action=action,
            target=url_for("campaigns.act", campaign_id=campaign_id, action=action),
            back=url_for("campaigns.show", campaign_id=campaign_id),
        )
    try:
        api().campaigns.post(f"/campaigns/{campaign_id}/{action}")
    except ApiFailure as exc:
        if exc.status not in (409, 422):
            raise
        campaign = api().campaigns.get(f"/campaigns/{campaign_id}")
        return render_template(
            "error.html",
            status=exc.status,
            failure=exc,
            back=url_for("campaigns.show", campaign_id=campaign["id"]),
        ), exc.status
    return redirect(url_for("campaigns.show", campaign_id=campaign_id))


@bp.app_template_filter("journey_steps")
def journey_steps(journey):
    """The journey's steps with a sentence each, for the drawing."""
    steps = []
    for step in (journey or {}).get("steps", []):
        kind = step.get("type")
        if kind == "send":
            text = _("Send template {template}", template=step.get("template_id"))
        elif kind == "wait":
            seconds = step.get("seconds") or (
                step.get("minutes", 0) * 60 + step.get("hours", 0) * 3600 + step.get("days", 0) * 86400
            )
            text = _("Wait {hours} h", hours=round(seconds / 3600, 1))
        elif kind == "branch":
            text = _(
                "If {condition} of {step}: go to {then}, else {other}",
                condition=_(step.get("if", "")),
                step=step.get("of"),
                then=step.get("then") or _("end"),
                other=step.get("else") or _("end"),
            )
        else:
            text = kind or "?"
        steps.append({"id": step.get("id"), "type": kind, "text": text})
    return steps
