"""What counts as a person's personal data, declared once.

Everything that decides what an analyst may see or ask reads this module:

* masking of API answers (``shared.http.auth.mask_personal``: profiles,
  lists, the 360 view and its interactions, deliveries, consents, mentions);
* segment rules and customer search (``services/segments``): an analyst may
  not filter or count on a personal field, so masked data cannot be
  recovered one character at a time;
* CSV exports (they mask each row with ``mask_personal``);
* template previews (the customer is masked before rendering).

A key named here is masked wherever it appears in a document (also inside
``attributes`` and interaction ``data``); ``social`` maps networks to handles
and is masked as handles.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

import phonenumbers
from phonenumbers import Leniency

from shared import normalize

# Keys whose value is personal, wherever they appear. "url": a post's or a
# clicked link's address can name the person (x.com/<handle>/status/...,
# ?email=...): analysts see its site only.
PERSONAL_FIELDS = ("email", "phone", "last_name", "ip", "address", "handle", "author_handle", "url")
# Maps whose every value is a handle.
HANDLE_MAPS = ("social",)
# Free text that may quote an address or a number (a bounce's reason: "550 <ana@example.com>:
# unknown", an SMS provider's; a consent's note: what a marketer wrote, or an import's
# "form: <its URL>"): addresses and numbers in it are masked.
FREE_TEXT_FIELDS = ("reason", "note")

# (Starting only where a word starts: tried at every character of a long word, the search took
# seconds on a 20,000-character one.)
EMAIL_IN_TEXT = re.compile(r"(?<![^\s<>()\"',;:])[^\s<>()\"',;:]+@[^\s<>()\"',;:]+")
# A number in international form (an SMS provider's "The 'To' number +34600999887 is not valid",
# "+52 1 55 1234 5678"), masked even when no country's plan knows it.
PHONE_IN_TEXT = re.compile(r"\+\d(?:[ ()-]{0,2}\d){6,14}(?!\d)")
# Numbers as people write them ("+34 612 34 56 78", "(+52) 55 1234 5678", "0034 612345678",
# "612 345 678") are found by phonenumbers' matcher: one valid in its country's plan. A number
# without an international prefix is looked for in the plan of each country of TEXT_PHONE_REGIONS
# (a Mexican "55 1234 5678", a US "(415) 555-2671", a Spanish "612 345 678"): the countries an
# installation's customers live in, `VINCULO_PHONE_REGIONS` (shared.settings), one matcher pass each.
TEXT_PHONE_REGIONS = ("ES", "MX", "US", "AR", "CO", "CL", "PE", "GB")
# What the matcher must not take for a number: dates, times, amounts, and a number a label shows
# to be an order's, an invoice's or a reference ("pedido 612345678", "order no. 712345678").
NOT_A_PHONE = re.compile(
    r"(?<![\d/.-])(?:\d{1,2}([/.-])\d{1,2}\1(?:\d{4}|\d{2})|\d{4}([/.-])\d{1,2}\2\d{1,2})(?![/.-]?\d)"  # dates
    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2})?)?"  # 15/03/2024, 2024-03-15T10:30
    r"|(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)"  # 10:30, 10:30:45
    r"|(?<![\d.,])\d{1,3}([.,])\d{3}(?:\3\d{3})*[.,]\d{1,2}(?![.,]?\d)"  # 612.345.678,90
    r"|(?<!\d)\d{5,}+(?=[^\W\d_])|(?<=[^\W\d_])\d{5,}+"  # glued to a letter: 12345678Z, X1234567L
    r"|(?:[$€£¥]|\b(?:EUR|USD|MXN|GBP)\b)\s?\d[\d.,]*"  # € 912.345.678
    r"|(?<![\d.,])\d[\d.,]*\s?(?:[$€£¥]|(?:EUR|USD|MXN|GBP|euros?|pesos|d[oó]lares|dollars)\b)"  # 912.345.678 €
    r"|(?:\b(?:pedido|order|factura|invoice|ref(?:erencia|erence)?|ticket|albar[aá]n|tracking"
    r"|seguimiento|env[ií]o|shipment)\b|#)\s*(?:n[º°o]\.?\s*)?[:#.]?\s*\d[\d.-]*",  # pedido nº 612345678
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")


# A key a marketer named in ``attributes`` (an import's column, an API client's field) is read as
# the personal field it means whatever its case, accents or separators ("Email", "e-mail",
# "Teléfono móvil", "Apellidos"): folded (letters and digits, lower-case, no accents), then
# looked up here, the canonical field names included.
PERSONAL_SYNONYMS = {
    "email": "email",
    "mail": "email",
    "correo": "email",
    "correoelectronico": "email",
    "phone": "phone",
    "phonenumber": "phone",
    "telephone": "phone",
    "tel": "phone",
    "telefono": "phone",
    "telefonomovil": "phone",
    "movil": "phone",
    "mobile": "phone",
    "mobilephone": "phone",
    "cell": "phone",
    "cellphone": "phone",
    "celular": "phone",
    "whatsapp": "phone",
    "lastname": "last_name",
    "surname": "last_name",
    "apellido": "last_name",
    "apellidos": "last_name",
    "ipaddress": "ip",
    "direccion": "address",
    "domicilio": "address",
    **{field.replace("_", ""): field for field in PERSONAL_FIELDS},
}
_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")
# Maps whose string values are free text a marketer or an import wrote (a "nota" attribute, a
# tag): an address or a number in them is masked as in a reason or a note.
FREE_TEXT_MAPS = ("attributes", "tags")


@functools.lru_cache(maxsize=4096)
def personal_field(key: str) -> str | None:
    """The personal field a key names (``Teléfono`` -> phone), or None."""
    return PERSONAL_SYNONYMS.get(_NOT_LETTER_OR_DIGIT.sub("", normalize.fold(key)))


def is_personal(field: str) -> bool:
    """True for a personal field or a path ending in one (``attributes.email``,
    ``attributes.Teléfono``, ``social.x``)."""
    parts = field.split(".")
    return personal_field(parts[-1]) is not None or parts[0] in HANDLE_MAPS


def mask_value(field: str, value, regions: tuple[str, ...] = TEXT_PHONE_REGIONS):
    """The value as an analyst sees it: enough to tell values apart, not to use them.
    ``regions``: the countries whose numbers are found in free text without a +prefix."""
    if not isinstance(value, str) or not value:
        return value
    field = personal_field(field) or field
    if field == "email" and "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if field == "phone":
        return value[:3] + "*" * max(len(value) - 5, 0) + value[-2:]
    if field == "url":
        parts = urlsplit(value)
        if parts.scheme in ("http", "https") and parts.hostname:
            return f"{parts.scheme}://{parts.hostname}/***"
        return "***"
    if field in FREE_TEXT_FIELDS:
        value = EMAIL_IN_TEXT.sub(lambda m: mask_value("email", m.group(0)), value)
        return mask_phones_in_text(value, regions)
    return value[:1] + "***"


def mask_phones_in_text(text: str, regions: tuple[str, ...] = TEXT_PHONE_REGIONS) -> str:
    """``text`` with each phone number in it masked as the ``phone`` field is (its +E.164 form):
    a number with a +prefix always, one without it where the plan of one of ``regions`` has it."""
    if len(_DIGIT.findall(text)) < 7:  # no number to find (most texts): skip the matcher
        return text
    # The matcher reads a copy where dates, times, amounts and labelled numbers are blanked out
    # (same length, so its positions are the text's): it neither takes them for numbers nor
    # joins them to a number beside them ("15/03/2024 612 345 678").
    shown = NOT_A_PHONE.sub(lambda m: "|" * len(m.group(0)), text)
    found = []
    for region in regions:  # the first country's reading of a number wins; its span is blanked
        taken = [
            # "(612 345 678)": the matcher takes the opening bracket, the closing one stays in the text
            (m.start + int(m.raw_string[:1] == "(" and ")" not in m.raw_string), m.end, _e164(m.number))
            for m in phonenumbers.PhoneNumberMatcher(shown, region, leniency=Leniency.POSSIBLE)
            # valid in its country's plan, or written with a + (a reserved or new range is still one)
            if m.raw_string.lstrip("(").startswith("+") or phonenumbers.is_valid_number(m.number)
        ]
        for start, end, _ in taken:  # what one pass took, no later pass or pattern takes again
            shown = shown[:start] + "|" * (end - start) + shown[end:]
        found += taken
    found += [
        (m.start(), m.end(), "+" + phonenumbers.normalize_digits_only(m.group(0)))
        for m in PHONE_IN_TEXT.finditer(shown)
    ]
    out, at = [], 0
    for start, end, number in sorted(found):
        out += [text[at:start], mask_value("phone", number)]
        at = end
    return "".join(out) + text[at:]


def _e164(number) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_document(data, regions: tuple[str, ...] = TEXT_PHONE_REGIONS, free_text: bool = False):
    """``data`` with every personal value masked (recursively, dicts and lists); under
    ``free_text`` (inside FREE_TEXT_MAPS) every other string is masked as free text."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if not isinstance(key, str):
                out[key] = mask_document(value, regions, free_text)
            elif key in FREE_TEXT_FIELDS or personal_field(key):
                out[key] = mask_value(key, value, regions)
            elif key in HANDLE_MAPS and isinstance(value, dict):
                out[key] = {network: mask_value("handle", handle) for network, handle in value.items()}
            else:
                out[key] = mask_document(value, regions, free_text or key in FREE_TEXT_MAPS)
        return out
    if isinstance(data, list):
        return [mask_document(item, regions, free_text) for item in data]
    if free_text and isinstance(data, str):
        return mask_value("note", data, regions)
    return data
