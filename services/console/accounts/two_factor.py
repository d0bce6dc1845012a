"""Two-factor sign-in: TOTP (RFC 6238, pyotp), recovery codes, pending sign-ins.

A password accepted with a second factor owed leaves a short-lived pending
sign-in (``console_pending``, keyed by a hash, a few tries); the roles that
must use two-factor are a console setting (``console_settings``:
``two_factor_roles``, ``require_two_factor``). The TOTP secrets are stored
encrypted (``sealed``): ``totp_secret`` and ``totp_pending`` are never the secret.
"""

from __future__ import annotations

import datetime
import secrets

from services.console.accounts import sealed
from services.console.accounts.base import ROLES, db
from services.console.accounts.users import get_user
from shared import store
from shared.http.auth import token_hash

RECOVERY_CODES = 10
PENDING_LIFETIME = datetime.timedelta(minutes=5)
CODE_TRIES = 5


def start_totp(user: dict) -> str:
    """A new secret, pending until a first code proves the person's app has it."""
    import pyotp

    secret = pyotp.random_base32()
    db().users.update_one({"_id": user["_id"]}, {"$set": {"totp_pending": sealed.seal(secret, user["_id"])}})
    return secret


def pending_secret(user: dict) -> str | None:
    """The secret being set up (to show it again), or None."""
    return sealed.unseal(user.get("totp_pending"), user["_id"])


def totp_uri(user: dict, secret: str) -> str:
    import pyotp

    return pyotp.TOTP(secret).provisioning_uri(name=user["email"], issuer_name="Vínculo")


def _totp_step(secret: str, code: str, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to (this one or the one either side), or None; a step
    already used is refused (a code works once)."""
    import pyotp

    code = (code or "").replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now = datetime.datetime.now(datetime.UTC)
    for offset in (0, -1, 1):
        moment = now + datetime.timedelta(seconds=30 * offset)
        if secrets.compare_digest(totp.at(moment), code):
            step = totp.timecode(moment)
            return step if last_step is None or step > last_step else None
    return None


def confirm_totp(user: dict, code: str) -> list[str] | None:
    """Turn two-factor on when ``code`` matches the pending secret: the recovery codes
    (shown once, stored hashed), else None."""
    secret = pending_secret(user)
    step = _totp_step(secret, code, None) if secret else None
    if step is None:
        return None
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
    db().users.update_one(
        {"_id": user["_id"]},
        {
            "$set": {
                "totp_secret": sealed.seal(secret, user["_id"]),
                "totp_last_step": step,
                "recovery_codes": [token_hash(c) for c in codes],
            },
            "$unset": {"totp_pending": ""},
        },
    )
    return codes


def disable_totp(user: dict) -> None:
    db().users.update_one(
        {"_id": user["_id"]},
        {"$unset": {"totp_secret": "", "totp_pending": "", "totp_last_step": "", "recovery_codes": ""}},
    )


def second_factor_ok(user: dict, code: str) -> bool:
    """A current TOTP code (used once) or an unused recovery code (then spent). A secret
    still stored plain is sealed when its code is accepted."""
    code = (code or "").strip().lower()
    stored = user["totp_secret"]
    secret = sealed.unseal(stored, user["_id"])
    step = _totp_step(secret, code, user.get("totp_last_step")) if secret else None
    if step is not None:
        change = {"totp_last_step": step}
        if not sealed.is_sealed(stored):
            change["totp_secret"] = sealed.seal(secret, user["_id"])
        answer = db().users.update_one(
            {"_id": user["_id"], "totp_last_step": user.get("totp_last_step")}, {"$set": change}
        )
        return answer.modified_count == 1
    digest = token_hash(code)
    if digest in (user.get("recovery_codes") or []):
        answer = db().users.update_one(
            {"_id": user["_id"], "recovery_codes": digest}, {"$pull": {"recovery_codes": digest}}
        )
        return answer.modified_count == 1
    return False


def start_pending(user: dict) -> str:
    """Password accepted, second factor owed: a short-lived pending sign-in (its id goes in
    the cookie; the store keeps its hash)."""
    pending = secrets.token_urlsafe(32)
    db().console_pending.insert_one(
        {
            "_id": token_hash(pending),
            "user_id": str(user["_id"]),
            "tries": 0,
            "expires_at": store.utcnow() + PENDING_LIFETIME,
        }
    )
    return pending


def pending_user(pending: str | None) -> dict | None:
    """The user of a live pending sign-in (counting a try), or None."""
    if not pending or len(pending) > 100:
        return None
    doc = db().console_pending.find_one({"_id": token_hash(pending)})
    if not doc or doc["expires_at"] <= store.utcnow() or doc["tries"] >= CODE_TRIES:
        return None
    db().console_pending.update_one({"_id": doc["_id"]}, {"$inc": {"tries": 1}})
    user = get_user(doc["user_id"])
    return user if user and user["state"] == "active" and user.get("totp_secret") else None


def end_pending(pending: str | None) -> None:
    if pending:
        db().console_pending.delete_one({"_id": token_hash(pending)})


def two_factor_roles() -> list[str]:
    doc = db().console_settings.find_one({"_id": "two_factor_roles"})
    return list(doc["roles"]) if doc else []


def require_two_factor(roles: list[str]) -> None:
    db().console_settings.replace_one(
        {"_id": "two_factor_roles"},
        {"_id": "two_factor_roles", "roles": [r for r in roles if r in ROLES]},
        upsert=True,
    )
