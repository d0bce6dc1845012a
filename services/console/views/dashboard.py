"""The dashboard: campaigns running and scheduled, last results, negative-mention alerts."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, url_for

from services.console.client import ApiFailure, api
from services.console.security import may, requires

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def root():
    return redirect(url_for("dashboard.index") if g.get("account") else url_for("auth.sign_in"))


@bp.get("/dashboard")
@requires("dashboard")
def index():
    panels: dict = {"unavailable": []}
    if may("campaigns"):
        try:
            panels["sending"] = api().campaigns.get("/campaigns", state="sending", limit=10)
            panels["scheduled"] = api().campaigns.get("/campaigns", state="scheduled", limit=10)
            sent = api().campaigns.get("/campaigns", state="sent", limit=5)
            panels["last"] = [
                (c, api().campaigns.get(f"/campaigns/{c['id']}/results")) for c in sent["items"]
            ]
        except ApiFailure:
            panels["unavailable"].append("campaigns")
    try:
        panels["alerts"] = api().listener.get("/alerts", status="open", limit=10)
        panels["negative"] = api().listener.get("/mentions", label="negative", status="new", limit=5)
        panels["queries"] = {q["id"]: q["name"] for q in api().listener.get("/queries", limit=200)["items"]}
    except ApiFailure:
        panels["unavailable"].append("listener")
    return render_template("dashboard.html", **panels)
