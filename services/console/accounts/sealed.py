"""TOTP secrets encrypted at rest (``users.totp_secret`` and ``users.totp_pending``).

The key is derived from the console's ``secret_key`` with HKDF-SHA256 (RFC 5869,
its own ``info``, so it is never the key that signs the cookie); a secret is sealed
with AES-256-GCM (``cryptography``), a random 96-bit nonce per value and the user's id
as associated data (a sealed value copied to another person's document does not open).
Stored as ``v1:`` + URL-safe base64 of nonce and ciphertext; a base32 TOTP secret
never holds ``:``, so a secret stored before this (plain) is told apart, still works,
and is sealed at start-up (``seal_plain_secrets``) or at its next use.

Changing ``VINCULO_SECRET_KEY`` makes the stored secrets unreadable: codes from the
app are then refused (never an error page) and people sign in with a recovery code.
"""

from __future__ import annotations

import base64
import functools
import os

from services.console.accounts.base import db

PREFIX = "v1:"
INFO = b"vinculo console: TOTP secrets at rest, v1"
FIELDS = ("totp_secret", "totp_pending")


@functools.lru_cache(maxsize=8)
def key_from(secret_key: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(secret_key.encode())


def current_key() -> bytes:
    """The key of the console answering this request."""
    from flask import current_app

    return key_from(current_app.config["VINCULO_SETTINGS"].secret_key)


def is_sealed(stored: str | None) -> bool:
    return isinstance(stored, str) and stored.startswith(PREFIX)


def seal(secret: str, user_id, key: bytes | None = None) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    box = AESGCM(key or current_key()).encrypt(nonce, secret.encode(), str(user_id).encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + box).decode()


def unseal(stored: str | None, user_id, key: bytes | None = None) -> str | None:
    """The secret (a plain one as it is), or None when there is none or it does not open."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not stored:
        return None
    if not is_sealed(stored):
        return stored
    try:
        raw = base64.urlsafe_b64decode(stored[len(PREFIX) :])
        return AESGCM(key or current_key()).decrypt(raw[:12], raw[12:], str(user_id).encode()).decode()
    except (InvalidTag, ValueError):
        return None


def seal_plain_secrets(secret_key: str) -> int:
    """Seal every secret still stored plain (the console's start); how many were sealed.
    The update matches the plain value, so two processes starting at once do no harm."""
    key, done = key_from(secret_key), 0
    for field in FIELDS:
        for user in db().users.find({field: {"$exists": True}}, {field: 1}):
            plain = user.get(field)
            if not plain or not isinstance(plain, str) or is_sealed(plain):
                continue
            answer = db().users.update_one(
                {"_id": user["_id"], field: plain}, {"$set": {field: seal(plain, user["_id"], key)}}
            )
            done += answer.modified_count
    return done
