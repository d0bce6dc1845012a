"""Sign-in (email and password, or an API key), sign-out, and the language switcher.

Both ways are throttled per account and per client address
(services/console/accounts/) and answer the same for an unknown email, a
wrong password and an account that is not active. An API-key sign-in asks a
service for the key's role (``GET /whoami``) and keeps only the role in the
server-side session: the key itself is neither stored nor put in the cookie.
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, session, url_for

from services.console import accounts, security
from services.console.client import ApiFailure, ServiceClient
from services.console.i18n import LOCALES
from services.console.i18n import gettext as _
from services.console.links import safe_next as _safe_next
from shared.http.auth import TOKEN_COLLECTIONS

bp = Blueprint("auth", __name__)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    error, status = None, 200
    if request.method == "POST":
        client = request.remote_addr or "?"
        email = (request.form.get("email") or "").strip()
        key = (request.form.get("api_key") or "").strip()
        account = email.casefold() if email else "key:" + accounts.token_hash(key)
        wait = accounts.throttled(account, client)
        if wait:
            error, status = _("Too many attempts. Wait {minutes} minutes and try again.", minutes=wait), 429
        elif email:
            user = accounts.authenticate(email, request.form.get("password") or "")
            if user is None:
                accounts.failed(account, client)
                error, status = _("Wrong email or password."), 401
            else:
                accounts.succeeded(account)
                if user.get("totp_secret"):  # the second factor is still owed
                    session["pending"] = accounts.start_pending(user)
                    return redirect(url_for("auth.second_factor", next=request.form.get("next") or ""))
                security.sign_in(user["role"], user["name"], user)
                return redirect(_safe_next(request.form.get("next")))
        elif not key:
            error, status = _("Enter your email and password."), 401
        elif key.startswith(tuple(TOKEN_COLLECTIONS)):
            # A person's token or session is the person's: a session made of it would belong to
            # no one, outliving the token's revocation and the person's disabling.
            accounts.failed(account, client)
            error, status = _("That API key is not valid."), 401
        else:
            role = None
            for service, url in g.settings.service_urls().items():
                try:
                    role = ServiceClient(service, url, key, g.settings.api_timeout).get("/whoami")["role"]
                    break
                except ApiFailure as exc:
                    if exc.status == 401:
                        accounts.failed(account, client)
                        error, status = _("That API key is not valid."), 401
                        break
                    if exc.status == 429:  # the service throttles wrong keys from this console
                        error, status = (
                            _("Too many attempts. Wait {minutes} minutes and try again.", minutes=1),
                            429,
                        )
                        break
                    error, status = _("No service answered; try again in a moment."), 503
            if role:
                accounts.succeeded(account)
                try:
                    name = accounts.checked_name(request.form.get("name") or "")
                except accounts.Refused:
                    name = _(role)
                security.sign_in(role, name, key=key)
                return redirect(_safe_next(request.form.get("next")))
    return render_template("sign_in.html", error=error, next=request.values.get("next", "")), status


@bp.route("/sign-in/code", methods=["GET", "POST"])
def second_factor():
    """The code from the authenticator app (or a recovery code) after the password."""
    error, status = None, 200
    if request.method == "POST":
        pending = session.get("pending")
        user = accounts.pending_user(pending)
        if user is None:
            session.pop("pending", None)
            return redirect(url_for("auth.sign_in"))
        client, account = request.remote_addr or "?", f"2fa:{user['_id']}"
        wait = accounts.throttled(account, client)
        if wait:
            error, status = _("Too many attempts. Wait {minutes} minutes and try again.", minutes=wait), 429
        elif accounts.second_factor_ok(user, request.form.get("code", "")):
            accounts.end_pending(pending)
            session.pop("pending", None)
            security.sign_in(user["role"], user["name"], user)
            return redirect(_safe_next(request.form.get("next")))
        else:
            accounts.failed(account, client)
            error, status = _("That code is not valid."), 401
    elif not session.get("pending"):
        return redirect(url_for("auth.sign_in"))
    return render_template("second_factor.html", error=error, next=request.values.get("next", "")), status


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
