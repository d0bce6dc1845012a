"""API keys with roles, checked on every API request.

Keys come from settings (``VINCULO_API_KEYS=key:role,...``) and travel in
``X-API-Key`` (or ``Authorization: Bearer <key>``). Every endpoint needs a
key unless its view is marked ``@public``; ``@roles(...)`` narrows who may
call it (admin may call anything). Analysts read personal data masked:
``mask_personal`` is applied by the views that return people; what is
personal is declared once, in ``shared.personal``.
"""

from __future__ import annotations

import hmac
from functools import wraps

from flask import Flask, current_app, g, request

from shared.http.errors import ApiError
from shared import personal
from shared.personal import PERSONAL_FIELDS

__all__ = ["PERSONAL_FIELDS", "ROLES", "authenticate", "current_role", "init_app", "mask_personal", "mask_value",
           "public", "roles"]

ROLES = ("admin", "marketer", "community_manager", "analyst")
# Served without a key: the OpenAPI document and static files.
PUBLIC_ENDPOINTS = {"openapi.spec", "static"}


def public(view):
    """Mark a view as reachable without an API key (health, customer pages)."""
    view.vinculo_public = True
    return view


def roles(*allowed: str):
    """Allow only these roles (and admin) to call the view."""
    unknown = set(allowed) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            role = getattr(g, "role", None)
            if role != "admin" and role not in allowed:
                raise ApiError(403, f"The {role} role may not do this", required=sorted(allowed))
            return view(*args, **kwargs)
        wrapper.vinculo_roles = allowed
        return wrapper
    return decorate


def _presented_key() -> str | None:
    key = request.headers.get("X-API-Key")
    if key:
        return key
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip()
    return None


def authenticate(api_keys: dict[str, str], key: str | None) -> str | None:
    """The role for ``key``, compared in constant time, or None."""
    if not key:
        return None
    role = None
    for known, known_role in api_keys.items():
        if hmac.compare_digest(known.encode(), key.encode()):
            role = known_role
    return role


def init_app(app: Flask, api_keys: dict[str, str]) -> None:
    app.extensions["vinculo_api_keys"] = api_keys

    @app.before_request
    def require_key():
        view = app.view_functions.get(request.endpoint or "")
        if (view is None or request.endpoint in PUBLIC_ENDPOINTS or request.method == "OPTIONS"
                or getattr(view, "vinculo_public", False)):
            return None
        role = authenticate(current_app.extensions["vinculo_api_keys"], _presented_key())
        if role is None:
            raise ApiError(401, "A valid API key is required in the X-API-Key header")
        g.role = role
        return None


def current_role() -> str | None:
    return getattr(g, "role", None)


def mask_value(field: str, value):
    """One value as an analyst sees it (shared.personal says how)."""
    return personal.mask_value(field, value)


def mask_personal(data, role: str | None = None):
    """Mask personal fields (recursively) when the caller is an analyst."""
    role = current_role() if role is None else role
    if role != "analyst":
        return data
    return personal.mask_document(data)
