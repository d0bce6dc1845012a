"""Campaigns: list with progress, create/edit, schedule, actions, results with charts.

The form and the API's body: services/console/campaign_form.py (the journey's
rows: journeys.py); what the campaign's page shows around it: campaign_report.py.
"""

from __future__ import annotations

import zoneinfo

from flask import Blueprint, abort, redirect, render_template, request, url_for

from services.console import cron
from services.console.campaign_form import VARIANT_ROWS, WEEKDAYS, body_from_form, choices, form_from_campaign
from services.console.campaign_report import REASONS, audience, referred_names, result_charts, waiting
from services.console.client import ApiFailure, api
from services.console.forms import api_errors
from services.console.i18n import gettext as _
from services.console.journeys import BRANCH_IFS, JOURNEY_SPARE_ROWS, JOURNEY_TYPES, WAIT_UNITS, journey_steps
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
        choices=choices(),
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
        audience=audience(campaign),
        waiting=waiting(campaign, results),
        reasons=REASONS,
        destructive={name for name, (_s, d) in ACTIONS.items() if d},
        charts=result_charts(
            results,
            timeline,
            {v["name"]: v.get("label") or v["name"] for v in campaign.get("variants") or []},
        ),
        cron_words=cron.describe(schedule.get("cron", "")) if schedule.get("kind") == "cron" else "",
        next_runs=cron.next_runs(schedule["cron"], zone) if schedule.get("kind") == "cron" else [],
        refresh=campaign["state"] == "sending",
        names=referred_names(campaign),
    )


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


bp.app_template_filter("journey_steps")(journey_steps)  # the page draws the journey with it
