"""Customers: search and the 360 view (profile, consents with history, segments, timeline)."""

from __future__ import annotations

import datetime

from flask import Blueprint, redirect, render_template, request, url_for

from services.console.client import ApiFailure, api
from services.console.forms import api_errors
from services.console.i18n import gettext as _
from services.console.security import may, requires

bp = Blueprint("customers", __name__, url_prefix="/customers")
SEARCH = ("name", "email", "phone", "tag", "stage")


@bp.get("")
@requires("customers")
def index():
    criteria = {key: request.args[key].strip() for key in SEARCH if request.args.get(key, "").strip()}
    page, errors, message = None, {}, None
    try:
        page = api().segments.get("/customers", limit=50, cursor=request.args.get("cursor"), **criteria)
    except ApiFailure as exc:
        if exc.status != 422:
            raise
        errors, message = api_errors(exc)
    return render_template(
        "customers/index.html", page=page, criteria=criteria, errors=errors, message=message
    )


CHANNELS = ("email", "sms")
TOPICS = ("newsletter", "promotions", "service")
# Where a marketer may say a consent came from (the mailer's ledger sources).
SOURCES = ("form", "support", "api")


def _source_labels() -> dict:
    return {
        "form": _("A form (web or paper)"),
        "support": _("Customer service (phone, shop, e-mail)"),
        "api": _("Another system of ours"),
    }


@bp.get("/<customer_id>")
@requires("customers")
def show(customer_id):
    return _show(customer_id)


def _consent_form(form: dict) -> tuple[dict | None, dict]:
    """The mailer's consent change for the form, or the errors by field (nothing is granted
    without its source, the date it was given and a proof)."""
    errors: dict[str, list[str]] = {}
    channel, topic, status = form.get("channel"), form.get("topic"), form.get("status")
    if channel not in CHANNELS:
        errors["channel"] = [_("Choose a channel.")]
    if topic not in TOPICS:
        errors["topic"] = [_("Choose a topic.")]
    if status not in ("granted", "revoked"):
        errors["status"] = [_("Choose grant or revoke.")]
    body = {"channel": channel, "topic": topic, "status": status}
    if status == "revoked":
        body.update(source="support", note=(form.get("note") or "").strip()[:500] or None)
        return (None if errors else {k: v for k, v in body.items() if v}), errors
    source = form.get("source")
    if source not in SOURCES:
        errors["source"] = [_("Say where the customer gave this consent.")]
    date = (form.get("date") or "").strip()
    try:
        given = datetime.date.fromisoformat(date)
        if given > datetime.date.today():
            errors["date"] = [_("The date cannot be in the future.")]
    except ValueError:
        errors["date"] = [_("Give the date the customer consented.")]
    wording, note = (form.get("wording_version") or "").strip(), (form.get("note") or "").strip()
    if not wording and not note:
        errors["wording_version"] = [_("Give a proof: the wording version accepted, or how they consented.")]
    if len(wording) > 50:
        errors["wording_version"] = [_("At most {n} characters.", n=50)]
    if len(note) > 500:
        errors["note"] = [_("At most {n} characters.", n=500)]
    if form.get("confirmed") != "yes":
        errors["confirmed"] = [_("Confirm that the customer gave this consent.")]
    if errors:
        return None, errors
    body.update(
        source=source, at=f"{date}T12:00:00+00:00", wording_version=wording or None, note=note or None
    )
    return {k: v for k, v in body.items() if v}, {}


@bp.post("/<customer_id>/consents")
@requires("audiences_write")
def change_consent(customer_id):
    """Grant (with source, date and proof) or revoke a consent through the mailer's API."""
    form = request.form.to_dict()
    body, errors = _consent_form(form)
    if body is not None:
        try:
            api().mailer.post(f"/customers/{customer_id}/consents", body)
        except ApiFailure as exc:
            if exc.status != 422:
                raise
            errors = exc.fields or {"status": [exc.message]}
    if errors:
        return _show(customer_id, form=form, errors=errors, status=422)
    return redirect(
        url_for("customers.show", customer_id=customer_id, consent=form.get("status")) + "#consents"
    )


def _show(customer_id, form: dict | None = None, errors: dict | None = None, status: int = 200):
    view = api().segments.get(f"/customers/{customer_id}/view", interactions=50)
    history = None
    if may("consent_history"):  # the mailer's audit trail: marketers and analysts
        try:
            history = api().mailer.get(f"/customers/{customer_id}/consents/history", limit=50)
        except ApiFailure as exc:
            if exc.status not in (403, 404, 503):
                raise
    return render_template(
        "customers/show.html",
        view=view,
        p=view["profile"],
        history=history,
        form=form or {},
        errors=errors or {},
        channels=CHANNELS,
        topics=TOPICS,
        sources=SOURCES,
        source_labels=_source_labels(),
        today=datetime.date.today().isoformat(),
    ), status
