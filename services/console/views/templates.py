"""Templates: list, create, edit per locale (a save is a new version), preview for a
chosen customer with undefined-variable errors shown at their line, SMS segments, test send."""

from __future__ import annotations

import json
import re

from flask import Blueprint, Response, redirect, render_template, request, url_for

from services.console.client import ApiFailure, api
from services.console.forms import api_errors, json_field
from services.console.i18n import gettext as _
from services.console.security import may, requires

bp = Blueprint("templates", __name__, url_prefix="/templates")

LOCALES = ("es", "en")
EMAIL_FIELDS = ("from_name", "subject", "text", "html")
SMS_FIELDS = ("text",)
LINE = re.compile(r"^line (\d+):")
# The rendered e-mail is shown in a sandboxed frame: no script, no forms, no requests out.
PREVIEW_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def fields_of(channel: str) -> tuple[str, ...]:
    return EMAIL_FIELDS if channel == "email" else SMS_FIELDS


def variants_from_form(form, channel: str) -> dict:
    variants = {}
    for locale in LOCALES:
        values = {name: form.get(f"{locale}_{name}", "") for name in fields_of(channel)}
        if any(value.strip() for value in values.values()):
            variants[locale] = {
                name: value for name, value in values.items() if value.strip() or name == "text"
            }
    return variants


def error_lines(errors: dict) -> dict[str, set[int]]:
    """{"es_text": {3}}: the lines the service's messages point at, per form field."""
    lines: dict[str, set[int]] = {}
    for name, messages in errors.items():
        parts = name.split(".")
        if len(parts) == 3 and parts[0] == "variants":
            for message in messages:
                match = LINE.match(message)
                if match:
                    lines.setdefault(f"{parts[1]}_{parts[2]}", set()).add(int(match.group(1)))
    return lines


@bp.get("")
@requires("templates_read")
def index():
    page = api().mailer.get("/templates", limit=200, after=request.args.get("after"))
    return render_template("templates/index.html", page=page)


def _form_page(template, form, errors, message=None, status=200, preview=None, preview_error=None, sent=None):
    channel = (template or {}).get("channel") or form.get("channel") or "email"
    return render_template(
        "templates/edit.html",
        template=template,
        form=form,
        errors=errors,
        message=message,
        channel=channel,
        fields=fields_of(channel),
        locales=LOCALES,
        lines=error_lines(errors),
        preview=preview,
        preview_error=preview_error,
        sent=sent,
    ), status


@bp.route("/new", methods=["GET", "POST"])
@requires("templates")
def create():
    if request.method == "GET":
        return _form_page(
            None,
            {
                "channel": request.args.get("channel", "email"),
                "fallback_locale": "es",
                "sample": '{"first_name": "Ana"}',
            },
            {},
        )
    channel = request.form.get("channel", "email")
    body = {
        "name": request.form.get("name", "").strip(),
        "channel": channel,
        "fallback_locale": request.form.get("fallback_locale") or "es",
        "variants": variants_from_form(request.form, channel),
        "publish": True,
    }
    errors = {}
    body["sample"] = json_field(request.form.get("sample") or "{}", "sample", errors)
    if not errors:
        try:
            created = api().mailer.post("/templates", body)
            return redirect(url_for("templates.edit", template_id=created["id"]))
        except ApiFailure as exc:
            if exc.status != 422:
                raise
            return _form_page(None, request.form, *api_errors(exc), 422)
    return _form_page(None, request.form, errors, _("Please correct the marked fields."), 422)


def _form_of(template: dict) -> dict:
    version = template.get("version") or {}
    form = {
        "name": template["name"],
        "channel": template["channel"],
        "fallback_locale": version.get("fallback_locale") or template.get("fallback_locale"),
        "sample": json.dumps(version.get("sample") or {}, ensure_ascii=False),
    }
    for locale, variant in (version.get("variants") or {}).items():
        for name, value in variant.items():
            form[f"{locale}_{name}"] = value or ""
    return form


def _preview(template_id: str, args) -> tuple[dict | None, ApiFailure | None]:
    params = {key: args.get(key) for key in ("locale", "customer_id") if args.get(key)}
    if args.get("draft"):  # the block editor's draft
        params["draft"] = True
    try:
        return api().mailer.post(f"/templates/{template_id}/preview", params), None
    except ApiFailure as exc:
        if exc.status not in (404, 422):
            raise
        return None, exc


@bp.route("/<template_id>", methods=["GET", "POST"])
@requires("templates_read")
def edit(template_id):
    """GET: the editor with a preview; POST (marketer): save the edits as a new version."""
    template = api().mailer.get(f"/templates/{template_id}")
    if any("blocks" in v for v in ((template.get("draft") or {}).get("variants") or {}).values()):
        return redirect(url_for("builder.editor", template_id=template_id))  # built from blocks
    if request.method == "POST":
        if not may("templates"):
            return render_template("error.html", status=403, failure=None), 403
        errors = {}
        body = {
            "variants": variants_from_form(request.form, template["channel"]),
            "fallback_locale": request.form.get("fallback_locale") or template["fallback_locale"],
            "publish": request.form.get("publish") == "on",
        }
        body["sample"] = json_field(request.form.get("sample") or "{}", "sample", errors)
        if not errors:
            try:
                api().mailer.post(f"/templates/{template_id}/versions", body)
                return redirect(
                    url_for(
                        "templates.edit",
                        template_id=template_id,
                        locale=request.form.get("preview_locale") or None,
                    )
                )
            except ApiFailure as exc:
                if exc.status not in (409, 422):
                    raise
                return _form_page(template, request.form, *api_errors(exc), exc.status)
        return _form_page(template, request.form, errors, _("Please correct the marked fields."), 422)
    preview, problem = _preview(template_id, request.args)
    errors = problem.fields if problem is not None else {}
    return _form_page(template, _form_of(template), errors, preview=preview, preview_error=problem)


@bp.get("/<template_id>/frame")
@requires("templates_read")
def frame(template_id):
    """The rendered HTML alone, for the sandboxed preview frame."""
    preview, problem = _preview(template_id, request.args)
    html = (preview or {}).get("html") or ""
    response = Response(html if problem is None else "", mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.post("/<template_id>/test-send")
@requires("templates")
def test_send(template_id):
    template = api().mailer.get(f"/templates/{template_id}")
    body = {key: request.form.get(key) for key in ("to", "locale", "customer_id") if request.form.get(key)}
    try:
        sent = api().mailer.post(f"/templates/{template_id}/test-send", body)
    except ApiFailure as exc:
        if exc.status not in (404, 422, 502, 503):
            raise
        preview, problem = _preview(template_id, request.form)
        return _form_page(template, _form_of(template), *api_errors(exc), 422, preview, problem)
    preview, problem = _preview(template_id, request.form)
    return _form_page(template, _form_of(template), {}, None, 200, preview, problem, sent=sent)
