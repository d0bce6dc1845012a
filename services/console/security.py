"""The session, CSRF and role checks for pages.

Sessions are server-side (services/console/accounts/, collection
``console_sessions``): the cookie (Flask's signed cookie, HttpOnly, SameSite=Lax,
Secure behind HTTPS) carries only a random session id, the CSRF token and the
chosen language; never a key, a role or a name. Every request loads the session
from the store, so signing out, signing out everywhere, a disabled account, the
idle limit and the absolute limit end it at the next request. The console calls
the services with ``vns_<session id>``, which they accept as the session's role
and person (shared/http/auth.py).

CSRF: a random token per session, put in every form as ``csrf_token`` (and
accepted in the ``X-CSRF-Token`` header for the small scripts); every POST
without the session's token is refused with 400.
"""

from __future__ import annotations

import hmac
import secrets
from functools import wraps

from flask import abort, g, redirect, request, session, url_for

from services.console import accounts

ROLES = ("admin", "marketer", "community_manager", "analyst")
# What each role may open: (endpoint prefix, nav label). Admin opens everything.
AREAS = {
    "dashboard": ("admin", "marketer", "community_manager", "analyst"),
    "campaigns": ("admin", "marketer", "analyst"),
    "campaigns_write": ("admin", "marketer"),
    "listening": ("admin", "marketer", "community_manager", "analyst"),
    "listening_triage": ("admin", "community_manager"),
    "listening_write": ("admin", "community_manager"),
    "customers": ("admin", "marketer", "analyst", "community_manager"),
    "audiences_write": ("admin", "marketer"),
    "consent_history": ("admin", "marketer", "analyst"),
    "templates": ("admin", "marketer"),
    "templates_read": ("admin", "marketer", "analyst"),
    # As the segments API checks them (services/segments/api/imports.py, segments.py).
    "imports": ("admin", "marketer", "analyst"),
    "imports_write": ("admin", "marketer"),
    "segments": ("admin", "marketer", "analyst", "community_manager"),
    "segments_preview": ("admin", "marketer", "analyst"),
    "segments_members": ("admin", "marketer", "analyst"),
    "segments_write": ("admin", "marketer"),
    "admin": ("admin",),
}


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Refuse a state-changing request without this session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="csrf")


def role() -> str | None:
    account = g.get("account")
    return account["role"] if account else None


def person_name() -> str | None:
    account = g.get("account")
    return account["user_name"] if account else None


def api_credential() -> str | None:
    """What the console presents to the services for this session."""
    return accounts.SESSION_PREFIX + session["sid"] if g.get("account") else None


def may(area: str) -> bool:
    return role() in AREAS[area]


def requires(area: str):
    """The page needs a signed-in user whose role may open ``area`` (else sign-in or 403)."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not g.get("account"):
                return redirect(url_for("auth.sign_in", next=request.full_path))
            if not may(area):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def sign_in(role_name: str, name: str, user: dict | None = None, key: str | None = None) -> None:
    """Open a server-side session (a new id and CSRF token: no fixation); for a person
    (``user``) or an API key (``key``: each service answers the session as that key)."""
    settings = g.settings
    session_id = accounts.open_session(
        role=role_name,
        user=user,
        name=name,
        client=request.remote_addr or "?",
        agent=request.headers.get("User-Agent", ""),
        idle=settings.session_idle,
        absolute=settings.session_max,
        key=key,
    )
    locale = session.get("locale")
    session.clear()
    session.permanent = True
    session.update(sid=session_id, csrf=secrets.token_urlsafe(32))
    if locale:
        session["locale"] = locale


def sign_out() -> None:
    accounts.end_session(session.get("sid"))
    g.pop("account", None)
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale


def init_app(app) -> None:
    app.jinja_env.globals.update(csrf_token=csrf_token, may=may, role=role, person_name=person_name)

    @app.before_request
    def who():
        g.account = None
        if session.get("sid") and request.endpoint != "static":
            g.account = accounts.live_session(session["sid"], g.settings.session_idle)
            if g.account is None:  # ended, expired or disabled: forget the id
                session.pop("sid", None)
        g.role = role()
        user = g.account.get("user") if g.account else None
        if (
            user
            and not user.get("totp_secret")
            and request.endpoint
            and not request.endpoint.startswith(("account.", "auth.", "static"))
            and user["role"] in accounts.two_factor_roles()
        ):
            return redirect(url_for("account.index", enroll=1))  # the admin requires two-factor for this role
        return None

    # After who(): the CSRF check reads the form, and a body over the limit is refused
    # there (413); its handler must already know who asks (the imports page shows the
    # error at its field to a role that may import).
    app.before_request(check_csrf)
