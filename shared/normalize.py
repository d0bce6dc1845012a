"""Normalisation of contact data, the same wherever a person's data enters
(import, API, subscribe form, mention authors)."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def text(value: str | None) -> str | None:
    """Unicode NFC with surrounding white space removed; None for blank."""
    if value is None:
        return None
    value = unicodedata.normalize("NFC", str(value)).strip()
    return value or None


def email(value: str | None) -> str | None:
    """Lower-cased, NFC, validated address; ValueError when it is not one."""
    value = text(value)
    if value is None:
        return None
    value = value.lower()
    if not EMAIL_RE.match(value) or len(value) > 254:
        raise ValueError("not a valid email address")
    return value


def phone(value: str | None, default_region: str | None = "ES") -> str | None:
    """E.164 (``+34600111222``); ValueError when it cannot be a real number."""
    value = text(value)
    if value is None:
        return None
    try:
        parsed = phonenumbers.parse(value, None if value.startswith("+") else default_region)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number for its country")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def fold(value: str | None) -> str:
    """Search key: lower case without accents, so 'Núñez' matches 'nunez' and 'núñ'."""
    if not value:
        return ""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def handle(value: str | None) -> str | None:
    """Social handle without '@', lower-cased (X and Mastodon compare case-insensitively)."""
    value = text(value)
    if value is None:
        return None
    return value.lstrip("@").lower() or None
