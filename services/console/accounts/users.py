"""People (the ``users`` collection): create, find, change, and the password sign-in.

A user has an email (``shared.normalize.email``), a display name, a role, a
state (invited, active, disabled), the Argon2id hash of the password, and
created / last sign-in / last seen times. A new role or a disabled state ends
the person's sessions, tokens and links at once (``end_everything``).
"""

from __future__ import annotations

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from services.console.accounts.base import ROLES, STATES, Refused, db
from services.console.accounts.passwords import check_password, hash_password, password_matches
from shared import normalize, store

SECRET_FIELDS = ("password_hash", "totp_secret", "totp_pending", "recovery_codes")


def checked_email(value: str) -> str:
    try:
        address = normalize.email(value)
    except ValueError:
        raise Refused("email", "bad_email") from None
    if not address:
        raise Refused("email", "required")
    return address


def checked_name(value: str) -> str:
    try:
        name = normalize.checked_text(value)
    except ValueError:
        raise Refused("name", "bad_character") from None
    if not name:
        raise Refused("name", "required")
    if len(name) > 100:
        raise Refused("name", "too_long")
    return name


def checked_role(value: str) -> str:
    if value not in ROLES:
        raise Refused("role", "bad_role")
    return value


def create_user(
    email: str, name: str, role: str, password: str | None = None, *, state: str | None = None
) -> dict:
    """A new user (``active`` with a password, else ``invited``); Refused on a bad field
    or an email already taken."""
    email, name, role = checked_email(email), checked_name(name), checked_role(role)
    doc = {
        "email": email,
        "name": name,
        "role": role,
        "created_at": store.utcnow(),
        "last_sign_in_at": None,
        "last_seen_at": None,
        "password_hash": None,
    }
    if password is not None:
        doc["password_hash"] = hash_password(check_password(password, email=email, name=name))
    doc["state"] = state or ("active" if password is not None else "invited")
    try:
        doc["_id"] = db().users.insert_one(doc).inserted_id
    except DuplicateKeyError:
        raise Refused("email", "taken") from None
    return doc


def get_user(user_id) -> dict | None:
    try:
        return db().users.find_one({"_id": ObjectId(str(user_id))})
    except Exception:  # noqa: BLE001 - not an id
        return None


def find_user(email: str) -> dict | None:
    try:
        return db().users.find_one({"email": normalize.email(email)})
    except ValueError:
        return None


def list_users() -> list[dict]:
    return list(db().users.find({}, {field: 0 for field in SECRET_FIELDS}).sort("email", 1))


def set_password(user: dict, password: str) -> None:
    password = check_password(password, email=user["email"], name=user.get("name") or "")
    db().users.update_one(
        {"_id": user["_id"]},
        {
            "$set": {
                "password_hash": hash_password(password),
                "state": "active" if user["state"] == "invited" else user["state"],
            }
        },
    )


def set_role(user: dict, role: str) -> None:
    """A new role; the person's sessions and tokens end (they were issued with the old one)."""
    db().users.update_one({"_id": user["_id"]}, {"$set": {"role": checked_role(role)}})
    end_everything(user["_id"])


def set_state(user: dict, state: str) -> None:
    if state not in STATES:
        raise Refused("state", "bad_state")
    db().users.update_one({"_id": user["_id"]}, {"$set": {"state": state}})
    if state == "disabled":
        end_everything(user["_id"])


def end_everything(user_id) -> None:
    """End every session and token of a person at once."""
    now = store.utcnow()
    db().console_sessions.update_many(
        {"user_id": str(user_id), "revoked_at": None}, {"$set": {"revoked_at": now}}
    )
    db().api_tokens.update_many({"user_id": str(user_id), "revoked_at": None}, {"$set": {"revoked_at": now}})
    db().account_tokens.update_many({"user_id": str(user_id), "used_at": None}, {"$set": {"used_at": now}})


def public_user(user: dict) -> dict:
    """A user as pages show it: never the hash, the TOTP secret or the recovery codes."""
    return {key: value for key, value in user.items() if key not in SECRET_FIELDS}


def authenticate(email: str, password: str) -> dict | None:
    """The active user with this email and password, or None (the same for an unknown
    email, a wrong password, an invited or disabled user). Argon2 runs in every case."""
    user = find_user(email)
    ok = password_matches(user.get("password_hash") if user else None, password)
    if not user or not ok or user.get("state") != "active":
        return None
    return user
