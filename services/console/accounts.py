"""People's accounts, their sessions, their API tokens and the sign-in throttle.

The console owns four collections in the store (see the README):

- ``users``: email (validated by ``shared.normalize.email``), display name, role,
  state (invited, active, disabled), the Argon2id hash of the password
  (argon2-cffi, its RFC 9106 defaults), created / last sign-in / last seen times;
- ``console_sessions``: one document per signed-in browser, keyed by the SHA-256 of
  the session id the cookie carries; role and person, ``expires_at`` (absolute)
  and ``idle_expires_at`` (pushed forward while the person is active);
- ``api_tokens``: personal tokens, keyed by the SHA-256 of the token, with name,
  role (at most the owner's), optional expiry, last-used time;
- ``console_throttle``: failed sign-ins per account and per client address.

The services read ``console_sessions`` and ``api_tokens`` (shared/http/auth.py) so a
session or a personal token is accepted like a configured key: the console calls them
with ``vns_<session id>`` and a person calls them with ``vnt_<token>``.

Passwords follow NIST SP 800-63B: at least 12 characters, at most 128 (any Unicode,
spaces too, NFC), no composition rules, refused when on the list of common passwords
(``common-passwords.txt.gz``: Django 5.2.19's ``django/contrib/auth/common-passwords.txt.gz``,
BSD-3-Clause, 19,640 passwords from Royce Williams' list
https://gist.github.com/roycewilliams/226886fd01572964e1431ac8afc999ce) or equal to the
person's email or name. A password or its hash is never logged nor shown.
"""

from __future__ import annotations

import datetime
import functools
import gzip
import secrets
import unicodedata
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from shared import normalize, store
from shared.http.auth import forget_token, token_hash

ROLES = ("admin", "marketer", "community_manager", "analyst")
# What a role may hand to a token it creates: its own role or one that sees and does less.
RANK = {"admin": 3, "marketer": 2, "community_manager": 1, "analyst": 0}
GRANTS = {
    "admin": ROLES,
    "marketer": ("marketer", "analyst"),
    "community_manager": ("community_manager",),
    "analyst": ("analyst",),
}
STATES = ("invited", "active", "disabled")
PASSWORD_MIN, PASSWORD_MAX = 12, 128
SESSION_PREFIX, TOKEN_PREFIX = "vns_", "vnt_"
# Sign-in throttle: failures in a window, per account and per client address.
ACCOUNT_FAILURES, CLIENT_FAILURES, THROTTLE_WINDOW = 5, 20, datetime.timedelta(minutes=15)

_hasher = PasswordHasher()  # Argon2id, RFC 9106 low-memory profile (t=3, m=64 MiB, p=4)
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))  # verified for unknown emails: same time


class Refused(ValueError):
    """A value a person gave is not acceptable; ``field`` names it, ``code`` is the message key."""

    def __init__(self, field: str, code: str):
        super().__init__(f"{field}: {code}")
        self.field, self.code = field, code


def db():
    return store.db()


def ensure_indexes() -> None:
    db().users.create_index("email", unique=True)
    db().console_sessions.create_index("user_id")
    db().api_tokens.create_index("user_id")


# --- passwords -------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with gzip.open(Path(__file__).with_name("common-passwords.txt.gz"), "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def check_password(password: str, *, email: str = "", name: str = "") -> str:
    """The password as stored (NFC); Refused("password", why) when the policy refuses it."""
    password = unicodedata.normalize("NFC", password or "")
    if len(password) < PASSWORD_MIN:
        raise Refused("password", "too_short")
    if len(password) > PASSWORD_MAX:
        raise Refused("password", "too_long")
    if normalize.unsafe_character(password):
        raise Refused("password", "bad_character")
    folded = password.casefold()
    if folded in common_passwords() or folded in {
        email.casefold(),
        (name or "").casefold(),
        email.partition("@")[0].casefold(),
    }:
        raise Refused("password", "common")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, unicodedata.normalize("NFC", password or ""))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --- users -------------------------------------------------------------------------


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


SECRET_FIELDS = ("password_hash", "totp_secret", "totp_pending", "recovery_codes")


def public_user(user: dict) -> dict:
    """A user as pages show it: never the hash, the TOTP secret or the recovery codes."""
    return {key: value for key, value in user.items() if key not in SECRET_FIELDS}


# --- the sign-in throttle -------------------------------------------------------------


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


def authenticate(email: str, password: str) -> dict | None:
    """The active user with this email and password, or None (the same for an unknown
    email, a wrong password, an invited or disabled user). Argon2 runs in every case."""
    user = find_user(email)
    ok = password_matches(user.get("password_hash") if user else None, password)
    if not user or not ok or user.get("state") != "active":
        return None
    return user


# --- sessions ----------------------------------------------------------------------


def open_session(
    *,
    role: str,
    user: dict | None,
    name: str,
    client: str,
    agent: str,
    idle: datetime.timedelta,
    absolute: datetime.timedelta,
) -> str:
    """A new server-side session; its id (for the cookie), never stored as such."""
    session_id = secrets.token_urlsafe(32)
    now = store.utcnow()
    db().console_sessions.insert_one(
        {
            "_id": token_hash(session_id),
            "role": role,
            "user_id": str(user["_id"]) if user else None,
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


# --- personal API tokens -------------------------------------------------------------


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


# --- invitations and password resets ---------------------------------------------------

LINK_LIFETIME = {"invite": datetime.timedelta(days=3), "reset": datetime.timedelta(hours=1)}


def issue_link_token(user: dict, purpose: str) -> str:
    """A single-use token for ``purpose`` (invite or reset), stored as its hash; earlier
    tokens of the same purpose for this person stop working."""
    token = secrets.token_urlsafe(32)
    now = store.utcnow()
    db().account_tokens.update_many(
        {"user_id": str(user["_id"]), "purpose": purpose, "used_at": None}, {"$set": {"used_at": now}}
    )
    db().account_tokens.insert_one(
        {
            "_id": token_hash(token),
            "user_id": str(user["_id"]),
            "purpose": purpose,
            "created_at": now,
            "expires_at": now + LINK_LIFETIME[purpose],
            "used_at": None,
        }
    )
    return token


def peek_link_token(token: str, purpose: str) -> dict | None:
    """The user a live token of ``purpose`` is for (not using it up), or None."""
    if not token or len(token) > 100:
        return None
    doc = db().account_tokens.find_one({"_id": token_hash(token), "purpose": purpose})
    if not doc or doc.get("used_at") or doc["expires_at"] <= store.utcnow():
        return None
    user = get_user(doc["user_id"])
    if not user or user["state"] == "disabled":
        return None
    return user


def use_link_token(token: str, purpose: str) -> bool:
    """Mark the token used; False when it was already used (only one caller wins)."""
    answer = db().account_tokens.update_one(
        {"_id": token_hash(token), "purpose": purpose, "used_at": None}, {"$set": {"used_at": store.utcnow()}}
    )
    return answer.modified_count == 1


def mailer_smtp(environ=None) -> dict:
    """The mailer's SMTP settings (``VINCULO_MAILER_SMTP_*``, ``VINCULO_MAILER_FROM_*``, with the
    mailer's defaults: services/mailer/settings.py), read from the environment every container
    shares. Read here rather than imported: the console's image holds only the console."""
    import os

    env = os.environ if environ is None else environ

    def get(name, default):
        return env.get(f"VINCULO_MAILER_{name}", default)

    return {
        "host": get("SMTP_HOST", "127.0.0.1"),
        "port": int(get("SMTP_PORT", "25")),
        "starttls": get("SMTP_STARTTLS", "false").lower() in ("1", "true", "yes", "on"),
        "user": get("SMTP_USER", ""),
        "password": get("SMTP_PASSWORD", ""),
        "timeout": float(get("SMTP_TIMEOUT", "30")),
        "from_address": get("FROM_ADDRESS", "hola@vinculo.example"),
        "from_name": get("FROM_NAME", "Vínculo"),
    }


def send_mail(to: str, subject: str, text: str) -> None:
    """Send one plain-text mail through the relay the mailer sends campaigns through
    (``mailer_smtp``). Raises OSError/SMTPException/ValueError when it fails."""
    import email.policy
    import smtplib
    from email.headerregistry import Address
    from email.message import EmailMessage

    settings = mailer_smtp()
    # IDN domains as A-labels; a non-ASCII local part (ñandú@...) needs SMTPUTF8, which
    # smtplib asks for and a relay without it refuses (the caller reports "not sent").
    address, needs_smtputf8 = normalize.wire_email(to)
    message = EmailMessage(policy=email.policy.SMTPUTF8 if needs_smtputf8 else email.policy.default)
    message["From"] = Address(
        normalize.header_text(settings["from_name"]), addr_spec=settings["from_address"]
    )
    message["To"] = address
    message["Subject"] = normalize.header_text(subject)
    message.set_content(text)
    with smtplib.SMTP(settings["host"], settings["port"], timeout=settings["timeout"]) as smtp:
        if settings["starttls"]:
            smtp.starttls()
        if settings["user"]:
            smtp.login(settings["user"], settings["password"])
        smtp.send_message(message)


# --- two-factor: TOTP (RFC 6238, pyotp) and recovery codes ------------------------------

RECOVERY_CODES = 10
PENDING_LIFETIME = datetime.timedelta(minutes=5)
CODE_TRIES = 5


def start_totp(user: dict) -> str:
    """A new secret, pending until a first code proves the person's app has it."""
    import pyotp

    secret = pyotp.random_base32()
    db().users.update_one({"_id": user["_id"]}, {"$set": {"totp_pending": secret}})
    return secret


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
    secret = user.get("totp_pending")
    step = _totp_step(secret, code, None) if secret else None
    if step is None:
        return None
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
    db().users.update_one(
        {"_id": user["_id"]},
        {
            "$set": {
                "totp_secret": secret,
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
    """A current TOTP code (used once) or an unused recovery code (then spent)."""
    code = (code or "").strip().lower()
    step = _totp_step(user["totp_secret"], code, user.get("totp_last_step"))
    if step is not None:
        answer = db().users.update_one(
            {"_id": user["_id"], "totp_last_step": user.get("totp_last_step")},
            {"$set": {"totp_last_step": step}},
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


# --- the local run's demo admin ------------------------------------------------------

DEMO_ADMIN_EMAIL = "admin@vinculo.example"
DEMO_ADMIN_PASSWORD = "cafe con leche en la plaza"


def demo_admin(mongo_uri: str) -> str:
    """The local run's demo admin (created once); the line that tells how to sign in."""
    store.connect(mongo_uri)
    ensure_indexes()
    user = find_user(DEMO_ADMIN_EMAIL)
    if user is None:
        create_user(DEMO_ADMIN_EMAIL, "Admin demo", "admin", DEMO_ADMIN_PASSWORD)
    elif not password_matches(user.get("password_hash"), DEMO_ADMIN_PASSWORD):
        return f"demo admin: {DEMO_ADMIN_EMAIL} (password as you last set it)"
    return f"demo admin: {DEMO_ADMIN_EMAIL} / password: {DEMO_ADMIN_PASSWORD}"
