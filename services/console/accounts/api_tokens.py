"""Personal API tokens (the ``api_tokens`` collection).

Keyed by the SHA-256 of the token, with name, role (at most the owner's:
``GRANTS``), optional expiry and last-used time. The services accept
``vnt_<token>`` like a configured key (shared/http/auth.py).
"""

from __future__ import annotations

import datetime
import secrets

from services.console.accounts.base import GRANTS, Refused, db
from services.console.accounts.users import checked_name
from shared import store
from shared.http.auth import token_hash

TOKEN_PREFIX = "vnt_"


def create_token(user: dict, name: str, role: str, days: int | None = None) -> str:
    """A new personal token (returned once, stored as its hash); Refused when the role is
    above the owner's or the name is not acceptable."""
    name = checked_name(name)
    if role not in GRANTS.get(user["role"], ()):
        raise Refused("role", "role_too_high")
    if days is not None and not 1 <= days <= 3650:
        raise Refused("days", "bad_days")
    token = secrets.token_urlsafe(32)
    now = store.utcnow()
    db().api_tokens.insert_one(
        {
            "_id": token_hash(token),
            "user_id": str(user["_id"]),
            "user_name": user["name"],
            "name": name,
            "role": role,
            "created_at": now,
            "expires_at": now + datetime.timedelta(days=days) if days else None,
            "last_used_at": None,
            "revoked_at": None,
            "hint": token[-4:],
        }
    )
    return TOKEN_PREFIX + token


def tokens_of(user_id) -> list[dict]:
    return list(db().api_tokens.find({"user_id": str(user_id), "revoked_at": None}).sort("created_at", -1))


def revoke_token(user_id, digest: str) -> None:
    db().api_tokens.update_one(
        {"_id": digest, "user_id": str(user_id)}, {"$set": {"revoked_at": store.utcnow()}}
    )
