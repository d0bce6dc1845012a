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


# Characters a person's data may never carry: C0/C1 controls (a CR or LF in a name
# becomes a header line), unpaired surrogates (not encodable), line and paragraph
# separators, and the bidirectional embeddings, overrides and isolates used to
# disguise text ("Trojan Source"). Marks (U+200E, U+200F, U+061C) and joiners stay:
# Arabic and Hebrew names and emoji sequences need them.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_MULTILINE_ALLOWED = frozenset("\n\r\t")


def unsafe_character(value: str, *, multiline: bool = False) -> str | None:
    """What is wrong with ``value`` (the first character not allowed), or None when it is fine."""
    if value.isprintable():  # fast path: no control, separator other than space, or surrogate
        return None
    for ch in value:
        category = unicodedata.category(ch)
        if category == "Cc":
            if multiline and ch in _MULTILINE_ALLOWED:
                continue
            return f"contains a control character (U+{ord(ch):04X})"
        if category == "Cs":
            return "contains an unpaired surrogate"
        if category in ("Zl", "Zp"):
            return f"contains a line separator (U+{ord(ch):04X})"
        if ch in _BIDI_CONTROLS:
            return f"contains a bidirectional control character (U+{ord(ch):04X})"
    return None


def checked_text(value: str | None, *, multiline: bool = False) -> str | None:
    """``text(value)``, refused with ValueError when it carries a character from ``unsafe_character``."""
    if value is None:
        return None
    problem = unsafe_character(str(value), multiline=multiline)
    if problem:
        raise ValueError(problem)
    return text(value)


def header_text(value: str | None) -> str:
    """A value safe to write into one header line: every character ``unsafe_character``
    refuses becomes a space, then runs of white space fold to one. Used where headers are
    written, for data stored before the edges refused such characters."""
    if not value:
        return ""
    if value.isprintable():
        return value
    cleaned = "".join(" " if unsafe_character(ch) else ch for ch in value)
    return " ".join(cleaned.split())


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
