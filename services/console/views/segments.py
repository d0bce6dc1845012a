"""Segments: list, the rule builder with its live count (JSON editable, works
without JavaScript by pasting the rule), detail with members, export,
recompute and archive; static lists filled from pasted e-mails or ids; a double opt-in
invitation to the whole segment. The builder's form and preview: services/console/segment_form.py."""

from __future__ import annotations

import json
import re

from flask import Blueprint, abort, redirect, render_template, request, url_for

from services.console.client import ApiFailure, api
from services.console.forms import api_errors
from services.console.i18n import gettext as _
from services.console.rules import describe, node_errors
from services.console.security import may, requires
from services.console.segment_form import NEW_RULE, form_from_request, form_page, preview_rule, rule_or_page
from services.console.views.imports import proxy_csv

bp = Blueprint("segments", __name__, url_prefix="/segments")

ACTIONS = {"recompute": True, "archive": True}  # action -> asks to confirm first


@bp.get("")
@requires("segments")
def index():
    page = api().segments.get("/segments", limit=50, cursor=request.args.get("cursor"))
    return render_template("segments/index.html", page=page)


@bp.route("/new", methods=["GET", "POST"])
@requires("segments_preview")
def create():
    """The builder; "preview" shows the count and a sample, "save" creates the segment (marketers)."""
    if request.method == "GET":
        text = json.dumps(NEW_RULE, indent=2, ensure_ascii=False)
        return form_page(None, {"kind": "dynamic", "rule": text, "parsed": NEW_RULE})
    form = form_from_request()
    action = request.form.get("action") or "preview"
    if action == "save" and not may("segments_write"):
        abort(403)
    if form["kind"] == "static" and action == "save":
        return _save_static(form)
    rule, page = rule_or_page(None, form, action)
    if page is not None:
        return page
    body = {"name": form["name"], "description": form["description"] or None, "kind": "dynamic", "rule": rule}
    try:
        created = api().segments.post("/segments", body)
    except ApiFailure as exc:
        if exc.status != 422:
            raise
        return form_page(None, form, *api_errors(exc), status=422)
    return redirect(url_for("segments.show", segment_id=created["id"]))


def _people(text: str) -> dict:
    """Pasted e-mails, customer ids or external ids (one per line or comma separated)."""
    emails, ids, external = [], [], []
    for item in (part.strip() for part in text.replace(",", "\n").splitlines()):
        if not item:
            continue
        if "@" in item:
            emails.append(item)
        elif re.fullmatch(r"[0-9a-f]{24}", item):
            ids.append(item)
        else:
            external.append(item)
    return {"emails": emails, "customer_ids": ids, "external_ids": external}


def _save_static(form):
    form["parsed"] = None
    try:
        created = api().segments.post(
            "/segments", {"name": form["name"], "kind": "static", "description": form["description"] or None}
        )
    except ApiFailure as exc:
        if exc.status != 422:
            raise
        return form_page(None, form, *api_errors(exc), status=422)
    people = _people(request.form.get("people", ""))
    if not any(people.values()):
        return redirect(url_for("segments.show", segment_id=created["id"]))
    # The segment exists now: whatever happens to its list, the answer is its page.
    return _apply_people(created["id"], people)


def _apply_people(segment_id: str, people: dict):
    """Add (or take out) people, then the segment's page naming who was not found; a
    refused list (422/409) is shown with a way back to the segment."""
    try:
        answer = api().segments.post(f"/segments/{segment_id}/members", people)
    except ApiFailure as exc:
        if exc.status not in (409, 422):
            raise
        return render_template(
            "error.html", status=exc.status, failure=exc, back=url_for("segments.show", segment_id=segment_id)
        ), exc.status
    missing = answer.get("not_found") or []
    return redirect(
        url_for("segments.show", segment_id=segment_id, not_found=", ".join(missing[:50]) or None)
    )


@bp.post("/preview")
@requires("segments_preview")
def preview():
    """The live count for the builder script: proxies the API's preview (JSON in, JSON out)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "rule" not in body:
        return {"message": _("Write a rule (JSON) or build one."), "fields": {"rule": ["missing"]}}, 422
    answer, errors, message = preview_rule(body["rule"])
    if errors:
        return {"message": message, "fields": errors, "placed": node_errors(body["rule"], errors)}, 422
    sample = [
        {
            "id": c["id"],
            "name": " ".join(filter(None, (c.get("first_name"), c.get("last_name")))),
            "email": c.get("email"),
            "country": c.get("country"),
            "city": c.get("city"),
        }
        for c in answer["sample"]
    ]
    return {"count": answer["count"], "sample": sample}


@bp.get("/places")
@requires("segments_preview")
def places():
    """The builder's place search: cities the customers live in (the segments API's /places)."""
    q = request.args.get("q", "").strip()[:100]
    if not q:
        return {"items": []}
    try:
        return {"items": api().segments.get("/places", q=q, limit=10)["items"]}
    except ApiFailure as exc:
        if exc.status >= 500:
            raise
        return {"items": [], "message": _("The place search is not available.")}, 200


@bp.get("/<segment_id>")
@requires("segments")
def show(segment_id):
    segment = api().segments.get(f"/segments/{segment_id}")
    members = None
    if may("segments_members"):
        members = api().segments.get(
            f"/segments/{segment_id}/members", limit=50, cursor=request.args.get("cursor")
        )
    actions = (
        [a for a in ACTIONS if a != "recompute" or segment["kind"] == "dynamic"]
        if may("segments_write") and not segment["archived"]
        else []
    )
    return render_template(
        "segments/show.html",
        s=segment,
        members=members,
        actions=actions,
        destructive={a for a, d in ACTIONS.items() if d},
        describe=describe,
        not_invited=invite_summary(request.args.get("not_invited")),
    )


@bp.route("/<segment_id>/edit", methods=["GET", "POST"])
@requires("segments_write")
def edit(segment_id):
    segment = api().segments.get(f"/segments/{segment_id}")
    if request.method == "GET":
        return form_page(
            segment,
            {
                "name": segment["name"],
                "description": segment.get("description") or "",
                "kind": segment["kind"],
                "parsed": segment.get("rule") or None,
                "rule": json.dumps(segment.get("rule") or {}, indent=2, ensure_ascii=False),
            },
        )
    form = form_from_request()
    form["kind"] = segment["kind"]
    action = request.form.get("action") or "preview"
    body = {"name": form["name"], "description": form["description"] or None}
    if segment["kind"] == "dynamic":
        rule, page = rule_or_page(segment, form, action)
        if page is not None:
            return page
        body["rule"] = rule
    try:
        api().segments.patch(f"/segments/{segment_id}", body)
    except ApiFailure as exc:
        if exc.status not in (409, 422):
            raise
        return form_page(segment, form, *api_errors(exc), status=exc.status)
    return redirect(url_for("segments.show", segment_id=segment_id))


@bp.post("/<segment_id>/members")
@requires("segments_write")
def add_members(segment_id):
    """Add (or take out) people of a static segment from a pasted list."""
    people = _people(request.form.get("people", ""))
    people["remove"] = request.form.get("remove") == "yes"
    return _apply_people(segment_id, people)


INVITE_REASONS = (
    "already_granted",
    "already_pending",
    "revoked",
    "no_email",
    "suppressed",
    "erased",
    "send_failed",
)


@bp.post("/<segment_id>/invite")
@requires("segments_write")
def invite(segment_id):
    """Double opt-in for the whole segment, through the mailer: nobody is granted until they confirm."""
    topic = request.form.get("topic")
    if request.form.get("confirmed") != "yes":  # every member gets an e-mail: asked, never by accident
        return redirect(url_for("segments.show", segment_id=segment_id, invite="unconfirmed") + "#invite")
    try:
        answer = api().mailer.post("/opt-in-invitations", {"segment_id": segment_id, "topic": topic})
    except ApiFailure as exc:
        if exc.status not in (404, 422):
            raise
        return render_template(
            "error.html", status=exc.status, failure=exc, back=url_for("segments.show", segment_id=segment_id)
        ), exc.status
    skipped = ",".join(f"{reason}:{count}" for reason, count in sorted(answer["not_invited"].items()))
    return redirect(
        url_for(
            "segments.show", segment_id=segment_id, invited=answer["invited"], not_invited=skipped or None
        )
    )


def invite_summary(text: str | None) -> list[tuple[str, int]]:
    """ "reason:count,..." from the redirect, in words."""
    words = {
        "already_granted": _("already consented"),
        "already_pending": _("already invited, not confirmed yet"),
        "revoked": _("said no before"),
        "no_email": _("no e-mail address"),
        "suppressed": _("on the suppression list"),
        "erased": _("erased"),
        "send_failed": _("the message could not be sent"),
    }
    out = []
    for part in (text or "").split(","):
        reason, _sep, count = part.partition(":")
        if reason in words and count.isdigit():
            out.append((words[reason], int(count)))
    return out


@bp.post("/<segment_id>/<action>")
@requires("segments_write")
def act(segment_id, action):
    if action not in ACTIONS:
        abort(404)
    if ACTIONS[action] and request.form.get("confirmed") != "yes":
        segment = api().segments.get(f"/segments/{segment_id}")
        return render_template(
            "confirm.html",
            what=segment["name"],
            action=action,
            target=url_for("segments.act", segment_id=segment_id, action=action),
            back=url_for("segments.show", segment_id=segment_id),
        )
    try:
        if action == "archive":
            api().segments.delete(f"/segments/{segment_id}")
            return redirect(url_for("segments.index"))
        api().segments.post(f"/segments/{segment_id}/recompute")
    except ApiFailure as exc:
        if exc.status not in (409, 422):
            raise
        return render_template(
            "error.html", status=exc.status, failure=exc, back=url_for("segments.show", segment_id=segment_id)
        ), exc.status
    return redirect(url_for("segments.show", segment_id=segment_id, recomputing=1))


@bp.get("/<segment_id>/export.csv")
@requires("segments_members")
def export(segment_id):
    return proxy_csv(f"/segments/{segment_id}/export.csv", f"segment-{segment_id}.csv")
