"""Browser sessions (the ``console_sessions`` collection).

One document per signed-in browser, keyed by the SHA-256 of the session id
the cookie carries; role and person, ``expires_at`` (absolute) and
``idle_expires_at`` (pushed forward while the person is active). The services
accept ``vns_<session id>`` like a configured key (shared/http/auth.py). A session
opened with an API key keeps the key's SHA-256 (``key_hash``): each service answers it
as its own settings take that key, so it ends when the key is taken out.
"""

from __future__ import annotations

import datetime
import secrets

from services.console.accounts.base import db
from services.console.accounts.users import get_user
from shared import normalize, store
from shared.http.auth import forget_token, token_hash

SESSION_PREFIX = "vns_"


def open_session(
    *,
    role: str,
    user: dict | None,
    name: str,
    client: str,
    agent: str,
    idle: datetime.timedelta,
    absolute: datetime.timedelta,
    key: str | None = None,
) -> str:
    """A new server-side session; its id (for the cookie), never stored as such."""
    session_id = secrets.token_urlsafe(32)
    now = store.utcnow()
    db().console_sessions.insert_one(
        {
            "_id": token_hash(session_id),
            "role": role,
            "user_id": str(user["_id"]) if user else None,
            "key_hash": token_hash(key) if key else None,
            "user_name": name,
            "created_at": now,
            "last_seen_at": now,
            "expires_at": now + absolute,
            "idle_expires_at": now + idle,
            "revoked_at": None,
            "client": client[:64],
            "agent": (normalize.header_text(agent) or "")[:200],
        }
    )
    if user:
        db().users.update_one({"_id": user["_id"]}, {"$set": {"last_sign_in_at": now, "last_seen_at": now}})
    return session_id


def live_session(session_id: str | None, idle: datetime.timedelta) -> dict | None:
    """The session if it is still live (pushing its idle expiry forward), else None."""
    if not session_id or len(session_id) > 100:
        return None
    doc = db().console_sessions.find_one({"_id": token_hash(session_id)})
    now = store.utcnow()
    if not doc or doc.get("revoked_at") or doc["expires_at"] <= now or doc["idle_expires_at"] <= now:
        return None
    if doc.get("user_id"):
        user = get_user(doc["user_id"])
        if not user or user.get("state") != "active":
            return None
        doc["user"] = user
    if (now - doc["last_seen_at"]).total_seconds() >= 30:  # one write a half-minute, not per page
        db().console_sessions.update_one(
            {"_id": doc["_id"]},
            {"$set": {"last_seen_at": now, "idle_expires_at": min(now + idle, doc["expires_at"])}},
        )
        if doc.get("user_id"):
            db().users.update_one({"_id": doc["user"]["_id"]}, {"$set": {"last_seen_at": now}})
    return doc


def end_session(session_id: str | None) -> None:
    if session_id:
        db().console_sessions.update_one(
            {"_id": token_hash(session_id)}, {"$set": {"revoked_at": store.utcnow()}}
        )
        forget_token(SESSION_PREFIX + session_id)


def sessions_of(user_id) -> list[dict]:
    now = store.utcnow()
    return [
        doc
        for doc in db()
        .console_sessions.find({"user_id": str(user_id), "revoked_at": None})
        .sort("created_at", -1)
        if doc["expires_at"] > now and doc["idle_expires_at"] > now
    ]


def end_session_of(user_id, digest: str) -> None:
    db().console_sessions.update_one(
        {"_id": digest, "user_id": str(user_id)}, {"$set": {"revoked_at": store.utcnow()}}
    )


def end_sessions_of(user_id) -> None:
    db().console_sessions.update_many(
        {"user_id": str(user_id), "revoked_at": None}, {"$set": {"revoked_at": store.utcnow()}}
    )
