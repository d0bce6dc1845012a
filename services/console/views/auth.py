"""Sign-in with an API key, sign-out, and the language switcher."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, g, redirect, render_template, request, session, url_for

from services.console import security
from services.console.client import ApiFailure, ServiceClient
from services.console.i18n import LOCALES, gettext as _

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect to another host after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return url_for("dashboard.index")
    return target


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    error = None
    if request.method == "POST":
        key = (request.form.get("api_key") or "").strip()
        name = (request.form.get("name") or "").strip()[:100]
        if not key:
            error = _("Enter your API key.")
        else:
            role = None
            for service, url in g.settings.service_urls().items():
                try:
                    role = ServiceClient(service, url, key, g.settings.api_timeout).get("/whoami")["role"]
                    break
                except ApiFailure as exc:
                    if exc.status == 401:
                        error = _("That API key is not valid.")
                        break
                    error = _("No service answered; try again in a moment.")
            if role:
                security.sign_in(key, role, name or role)
                return redirect(_safe_next(request.form.get("next")))
    return render_template("sign_in.html", error=error, next=request.values.get("next", "")), (
        401 if error else 200)


@bp.post("/sign-out")
def sign_out():
    security.sign_out()
    return redirect(url_for("auth.sign_in"))


@bp.post("/locale")
def set_locale():
    chosen = request.form.get("locale")
    if chosen in LOCALES:
        session["locale"] = chosen
    return redirect(_safe_next(request.form.get("next")))
