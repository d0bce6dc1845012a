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

import re
from urllib.parse import urlsplit

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
# A number in international form (an SMS provider's "The 'To' number +34600999887 is not valid").
PHONE_IN_TEXT = re.compile(r"\+\d{7,15}\b")


def is_personal(field: str) -> bool:
    """True for a personal field or a path ending in one (``attributes.email``, ``social.x``)."""
    parts = field.split(".")
    return parts[-1] in PERSONAL_FIELDS or parts[0] in HANDLE_MAPS


def mask_value(field: str, value):
    """The value as an analyst sees it: enough to tell values apart, not to use them."""
    if not isinstance(value, str) or not value:
        return value
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
        return PHONE_IN_TEXT.sub(lambda m: mask_value("phone", m.group(0)), value)
    return value[:1] + "***"


def mask_document(data):
    """``data`` with every personal value masked (recursively, dicts and lists)."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if key in PERSONAL_FIELDS or key in FREE_TEXT_FIELDS:
                out[key] = mask_value(key, value)
            elif key in HANDLE_MAPS and isinstance(value, dict):
                out[key] = {network: mask_value("handle", handle) for network, handle in value.items()}
            else:
                out[key] = mask_document(value)
        return out
    if isinstance(data, list):
        return [mask_document(item) for item in data]
    return data
