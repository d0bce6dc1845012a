"""API keys with roles, checked on every API request.

Keys come from settings (``VINCULO_API_KEYS=key:role,...``) and travel in
``X-API-Key`` (or ``Authorization: Bearer <key>``). A key that is not a
configured one may be a credential the console issued (its prefix says which):
``vnt_...`` a personal API token (collection ``api_tokens``), ``vns_...`` a
console session acting for its person (``console_sessions``). Both are stored
only as their SHA-256; a lookup answers the role and the person (user id and
name, for the access log) and is cached for ``TOKEN_CACHE_SECONDS``, so a
revoked token stops within that time. Failed keys are throttled per client
address: after ``FAILURE_LIMIT`` failures in ``FAILURE_WINDOW`` seconds the
client gets 429 (with Retry-After) until the window ends, except with a live
token or console session (random, so nothing to guess: the console's calls go on
whatever others type at its sign-in); the counter is in process (each gunicorn
worker counts its own). Every endpoint needs a
key unless its view is marked ``@public``; ``@roles(...)`` narrows who may
call it (admin may call anything). Analysts read personal data masked:
``mask_personal`` is applied by the views that return people; what is
personal is declared once, in ``shared.personal``.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from functools import wraps

from flask import Flask, current_app, g, request

from shared import personal
from shared.http.errors import ApiError
from shared.personal import PERSONAL_FIELDS

__all__ = [
    "PERSONAL_FIELDS",
    "ROLES",
    "authenticate",
    "current_role",
    "init_app",
    "mask_personal",
    "mask_value",
    "public",
    "roles",
]

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


TOKEN_COLLECTIONS = {"vnt_": "api_tokens", "vns_": "console_sessions"}
TOKEN_CACHE_SECONDS = 2.0
LAST_USED_EVERY = 60.0  # seconds between writes of a token's last_used_at
FAILURE_LIMIT = 20
FAILURE_WINDOW = 60.0
_lock = threading.Lock()
_cache: dict[str, tuple[float, dict | None]] = {}
_failures: dict[str, tuple[float, int]] = {}  # client -> (window start, failures)
_last_used: dict[str, float] = {}


def token_hash(token: str) -> str:
    """How the store keeps a token or session id: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _utcnow():
    import datetime

    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def lookup_token(key: str) -> dict | None:
    """``{"role", "user_id", "user_name", "kind"}`` for a live personal token or console
    session, or None (unknown, revoked, expired, idle too long)."""
    collection = TOKEN_COLLECTIONS.get(key[:4])
    if collection is None or len(key) > 200:
        return None
    digest = token_hash(key[4:])
    now_mono = time.monotonic()
    with _lock:
        cached = _cache.get(digest)
    if cached and cached[0] > now_mono:
        return cached[1]
    from shared import store

    try:
        doc = store.db()[collection].find_one({"_id": digest})
    except Exception:  # noqa: BLE001 - the store is down: not the caller's fault
        raise ApiError(503, "The store does not answer; try again", error="unavailable") from None
    now = _utcnow()
    identity = None
    if (
        doc
        and not doc.get("revoked_at")
        and doc.get("role") in ROLES
        and all(not doc.get(limit) or doc[limit] > now for limit in ("expires_at", "idle_expires_at"))
        and _person_may_act(doc.get("user_id"))
    ):
        identity = {
            "role": doc["role"],
            "user_id": doc.get("user_id"),
            "user_name": doc.get("user_name"),
            "kind": "token" if collection == "api_tokens" else "session",
            "key_hash": doc.get("key_hash"),
        }
        if (
            collection == "api_tokens"
            and now_mono - _last_used.get(digest, -LAST_USED_EVERY) >= LAST_USED_EVERY
        ):
            _last_used[digest] = now_mono
            try:
                store.db()[collection].update_one({"_id": digest}, {"$set": {"last_used_at": now}})
            except Exception:  # noqa: BLE001 - last-used time is best effort
                pass
    with _lock:
        if len(_cache) > 10000:
            _cache.clear()
        _cache[digest] = (now_mono + TOKEN_CACHE_SECONDS, identity)
    return identity


def _person_may_act(user_id: str | None) -> bool:
    """A person's token or session acts only while the person is active and owes no
    two-factor: the console keeps someone of a role the admin requires two-factor for on
    their account page until they turn it on, and the services must not answer that
    session (or a token made before the rule) in the meantime. Keys of the settings have
    no person. Two reads, at most once per ``TOKEN_CACHE_SECONDS`` per key."""
    if not user_id:
        return True
    from bson import ObjectId
    from bson.errors import InvalidId

    from shared import store

    try:
        oid = ObjectId(user_id)
    except (InvalidId, TypeError):
        return False
    try:
        user = store.db().users.find_one({"_id": oid}, {"state": 1, "role": 1, "totp_secret": 1})
        if not user or user.get("state") != "active":
            return False
        if user.get("totp_secret"):
            return True
        rule = store.db().console_settings.find_one({"_id": "two_factor_roles"}) or {}
    except Exception:  # noqa: BLE001 - the store is down: not the caller's fault
        raise ApiError(503, "The store does not answer; try again", error="unavailable") from None
    return user.get("role") not in (rule.get("roles") or ())


def forget_token(key: str) -> None:
    """Drop ``key`` from this process's cache (the console calls it when it revokes)."""
    with _lock:
        _cache.pop(token_hash(key[4:]), None)


def _throttled(client: str) -> float:
    """Seconds ``client`` must still wait (0 when it may try)."""
    now = time.monotonic()
    with _lock:
        start, count = _failures.get(client, (now, 0))
        if now - start >= FAILURE_WINDOW:
            _failures.pop(client, None)
            return 0.0
        return FAILURE_WINDOW - (now - start) if count >= FAILURE_LIMIT else 0.0


def _failed(client: str) -> None:
    now = time.monotonic()
    with _lock:
        if len(_failures) > 100000:
            _failures.clear()
        start, count = _failures.get(client, (now, 0))
        if now - start >= FAILURE_WINDOW:
            start, count = now, 0
        _failures[client] = (start, count + 1)


def init_app(app: Flask, api_keys: dict[str, str]) -> None:
    app.extensions["vinculo_api_keys"] = api_keys
    # role by the key's SHA-256, for the sessions opened with a key (they hold its hash)
    app.extensions["vinculo_api_key_hashes"] = {token_hash(k): role for k, role in api_keys.items()}

    @app.before_request
    def require_key():
        view = app.view_functions.get(request.endpoint or "")
        if (
            view is None
            or request.endpoint in PUBLIC_ENDPOINTS
            or request.method == "OPTIONS"
            or getattr(view, "vinculo_public", False)
        ):
            return None
        client = request.remote_addr or "?"
        key = _presented_key()
        # A live token or console session (256 random bits: nothing to guess) passes even
        # from a throttled address: the console's own calls, from one address for all its
        # people, cannot be blocked by someone typing wrong keys at its sign-in page.
        identity = lookup_token(key) if key and key[:4] in TOKEN_COLLECTIONS else None
        wait = 0.0 if identity is not None else _throttled(client)
        if wait:
            error = ApiError(
                429, "Too many failed API keys from this address; try again later", retry_after=int(wait) + 1
            )
            error.headers = {"Retry-After": str(int(wait) + 1)}
            raise error
        api_keys = current_app.extensions["vinculo_api_keys"]
        if identity is not None and not identity["user_id"]:
            identity = _as_key_here(current_app.extensions["vinculo_api_key_hashes"], identity)
        role = authenticate(api_keys, key)
        if identity is not None:
            role = identity["role"]
            g.user_id, g.user_name = identity["user_id"], identity["user_name"]
        if role is None:
            _failed(client)
            raise ApiError(401, "A valid API key is required in the X-API-Key header")
        g.role = role
        return None


def _as_key_here(key_hashes: dict[str, str], identity: dict) -> dict | None:
    """A session opened with an API key, as this service's settings take the key (None when
    they do not hold it: a key of another service, or one taken out since)."""
    role = key_hashes.get(identity.get("key_hash") or "")
    return {**identity, "role": role} if role else None


def current_role() -> str | None:
    return getattr(g, "role", None)


def current_person() -> dict | None:
    """``{"user_id", "user_name"}`` when the caller is a person (personal token or the
    console acting for them), else None (a configured service key)."""
    user_id = getattr(g, "user_id", None)
    return {"user_id": user_id, "user_name": getattr(g, "user_name", None)} if user_id else None


def mask_value(field: str, value):
    """One value as an analyst sees it (shared.personal; numbers in free text: ``phone_regions``)."""
    return personal.mask_value(field, value, current_app.config["VINCULO_SETTINGS"].phone_regions)


def mask_personal(data, role: str | None = None):
    """Mask personal fields (recursively) when the caller is an analyst."""
    role = current_role() if role is None else role
    if role != "analyst":
        return data
    return personal.mask_document(data, current_app.config["VINCULO_SETTINGS"].phone_regions)
