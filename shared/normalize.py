"""Normalisation of contact data, the same wherever a person's data enters
(import, API, subscribe form, mention authors)."""

from __future__ import annotations

import functools
import unicodedata

import idna
import phonenumbers
from email_validator import EmailNotValidError, validate_email


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


def email_key(value: str) -> str:
    """The form ``value`` is stored in when it is an address (IDN, NFD, upper case folded as
    ``email`` does), else itself stripped and lower-cased: what a search or a member list
    matches stored addresses with."""
    try:
        return email(value) or value.strip().lower()
    except ValueError:
        return value.strip().lower()


def email(value: str | None) -> str | None:
    """The stored form of an email address; ValueError (saying why) when it is not one.

    Validated by ``email-validator`` (RFC 5321/5322 syntax, RFC 6531 internationalised local
    parts, IDNA 2008 domains, quoted local parts). The stored form: Unicode NFC, the domain
    as its Unicode (U-label) form lower-cased (``user@xn--bcher-kva.example`` and
    ``user@Bücher.example`` are both stored ``user@bücher.example``), and the local part
    lower-cased too, so one person is one address whatever case they typed. Sending turns
    the domain into A-labels (``wire_email``).
    """
    value = text(value)
    if value is None:
        return None
    problem = unsafe_character(value)
    if problem:
        raise ValueError(problem)
    try:
        valid = validate_email(value, check_deliverability=False, allow_quoted_local=True)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    local, _, domain = valid.normalized.rpartition("@")
    return unicodedata.normalize("NFC", f"{local.lower()}@{domain}")


@functools.lru_cache(maxsize=4096)
def _ascii_domain(domain: str) -> str:
    return idna.encode(domain, uts46=True).decode("ascii")


def wire_email(address: str) -> tuple[str, bool]:
    """(the address as it goes on the wire, whether it needs SMTPUTF8).

    IDN domains go out as A-labels (``user@xn--bcher-kva.example``), which every server
    accepts; only a non-ASCII local part (``ñandú@ejemplo.es``) needs a server offering
    SMTPUTF8 (RFC 6531)."""
    if address.isascii():
        return address, False
    local, _, domain = address.rpartition("@")
    if not domain.isascii():
        domain = _ascii_domain(domain)
    return f"{local}@{domain}", not local.isascii()


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
        parsed = _mexican_mobile_one(parsed)
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number for its country")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _mexican_mobile_one(parsed):
    """A Mexican mobile written with the "1" Mexico dropped in 2019 (``+52 1 55 1234 5678``, still
    in address books and WhatsApp exports) -> the number without it, else None."""
    national = str(parsed.national_number)
    if parsed.country_code != 52 or len(national) != 11 or not national.startswith("1"):
        return None
    return phonenumbers.PhoneNumber(country_code=52, national_number=int(national[1:]))


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
