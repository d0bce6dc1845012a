"""Sign-in with an API key, the session, CSRF and role checks for pages.

The key is checked by asking a service (``GET /whoami``, which answers the
key's role); the console stores no keys of its own. The key and role live in
Flask's signed session cookie (HttpOnly, SameSite=Lax, Secure behind HTTPS):
the browser already knows the key its user typed, and no script can read it.

CSRF: a random token per session, put in every form as ``csrf_token`` (and
accepted in the ``X-CSRF-Token`` header for the small scripts); every POST
without the session's token is refused with 400.
"""

from __future__ import annotations

import hmac
import secrets
from functools import wraps

from flask import abort, g, redirect, request, session, url_for

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
    return session.get("role")


def may(area: str) -> bool:
    return role() in AREAS[area]


def requires(area: str):
    """The page needs a signed-in user whose role may open ``area`` (else sign-in or 403)."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not session.get("api_key"):
                return redirect(url_for("auth.sign_in", next=request.full_path))
            if not may(area):
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorate


def sign_in(api_key: str, role_name: str, name: str) -> None:
    locale = session.get("locale")
    session.clear()
    session.permanent = True
    session.update(api_key=api_key, role=role_name, user=name, csrf=secrets.token_urlsafe(32))
    if locale:
        session["locale"] = locale


def sign_out() -> None:
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale


def init_app(app) -> None:
    app.before_request(check_csrf)
    app.jinja_env.globals.update(csrf_token=csrf_token, may=may, role=role)

    @app.before_request
    def who():
        g.role = role()
