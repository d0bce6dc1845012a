"""Invitations and password resets: single-use link tokens and the mail that carries them.

A link token (``account_tokens``) is stored as its hash, lives
``LINK_LIFETIME[purpose]`` and is used up once; the mail leaves through the
SMTP relay the mailer sends campaigns through (``mailer_smtp``).
"""

from __future__ import annotations

import datetime
import secrets

from services.console.accounts.base import db
from services.console.accounts.users import get_user
from shared import normalize, store
from shared.http.auth import token_hash

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
