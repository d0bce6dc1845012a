"""The sign-in throttle (the ``console_throttle`` collection).

Failed sign-ins are counted per account and per client address (both keyed by
a hash) in a window; past the limit, ``throttled`` says how many minutes to
wait.
"""

from __future__ import annotations

import datetime

from services.console.accounts.base import db
from shared import store
from shared.http.auth import token_hash

# Sign-in throttle: failures in a window, per account and per client address.
ACCOUNT_FAILURES, CLIENT_FAILURES, THROTTLE_WINDOW = 5, 20, datetime.timedelta(minutes=15)


def _throttle_key(kind: str, value: str) -> str:
    return f"{kind}:{token_hash(value.casefold())}"


def throttled(email: str, client: str) -> int:
    """Minutes to wait before another try (0: may try)."""
    now = store.utcnow()
    for key, limit in (
        (_throttle_key("account", email), ACCOUNT_FAILURES),
        (_throttle_key("client", client), CLIENT_FAILURES),
    ):
        doc = db().console_throttle.find_one({"_id": key})
        if doc and doc["count"] >= limit and doc["start"] + THROTTLE_WINDOW > now:
            return max(1, int((doc["start"] + THROTTLE_WINDOW - now).total_seconds() // 60) + 1)
    return 0


def failed(email: str, client: str) -> None:
    now = store.utcnow()
    for key in (_throttle_key("account", email), _throttle_key("client", client)):
        doc = db().console_throttle.find_one({"_id": key})
        if doc is None or doc["start"] + THROTTLE_WINDOW <= now:
            db().console_throttle.replace_one(
                {"_id": key}, {"_id": key, "start": now, "count": 1}, upsert=True
            )
        else:
            db().console_throttle.update_one({"_id": key}, {"$inc": {"count": 1}})


def succeeded(email: str) -> None:
    db().console_throttle.delete_one({"_id": _throttle_key("account", email)})
