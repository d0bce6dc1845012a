"""Passwords: the policy (NIST SP 800-63B), the Argon2id hash and its check.

At least 12 characters, at most 128 (any Unicode, spaces too, NFC), no
composition rules, refused when on the list of common passwords
(``services/console/common-passwords.txt.gz``: Django 5.2.19's
``django/contrib/auth/common-passwords.txt.gz``, BSD-3-Clause, 19,640
passwords from Royce Williams' list
https://gist.github.com/roycewilliams/226886fd01572964e1431ac8afc999ce) or
equal to the person's email or name. A password or its hash is never logged
nor shown.
"""

from __future__ import annotations

import functools
import gzip
import secrets
import unicodedata
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from services.console.accounts.base import Refused
from shared import normalize

PASSWORD_MIN, PASSWORD_MAX = 12, 128
_hasher = PasswordHasher()  # Argon2id, RFC 9106 low-memory profile (t=3, m=64 MiB, p=4)
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))  # verified for unknown emails: same time


@functools.lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with gzip.open(Path(__file__).parents[1] / "common-passwords.txt.gz", "rt", encoding="utf-8") as lines:
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
