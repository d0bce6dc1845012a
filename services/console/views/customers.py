"""Customers: search and the 360 view (profile, consents with history, segments, timeline)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from services.console.app import api
from services.console.client import ApiFailure
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
        errors, message = exc.fields, exc.message
    return render_template("customers/index.html", page=page, criteria=criteria, errors=errors, message=message)


@bp.get("/<customer_id>")
@requires("customers")
def show(customer_id):
    view = api().segments.get(f"/customers/{customer_id}/view", interactions=50)
    history = None
    if may("consent_history"):  # the mailer's audit trail: marketers and analysts
        try:
            history = api().mailer.get(f"/customers/{customer_id}/consents/history", limit=50)
        except ApiFailure as exc:
            if exc.status not in (403, 404, 503):
                raise
    return render_template("customers/show.html", view=view, p=view["profile"], history=history)
