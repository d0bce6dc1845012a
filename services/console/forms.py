"""What several forms of the console share."""

from __future__ import annotations

import json
import re

from services.console.i18n import gettext as _


def json_field(text: str, field: str, errors: dict, default=None):
    """The JSON pasted into a form field; when it is not JSON, why goes to ``errors[field]``
    and ``default`` is returned. Nesting too deep for the parser is a mistake like any other,
    not an error page."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        errors[field] = [_("Not valid JSON: {error}", error=str(exc))]
        return default


# What the APIs answer in English, with a value in it: pattern -> the message with {0}
# (translated like any other message; the fixed ones are in the catalogue as they are).
API_PATTERNS = (
    (r"unknown template (\S+)", "unknown template {0}"),
    (r"template (\S+) is archived", "template {0} is archived"),
    (r"unknown segment (\S+)", "unknown segment {0}"),
    (r"segment (\S+) is archived", "segment {0} is archived"),
    (r"unknown step '(.+)'", "unknown step {0}"),
    (r"'(.+)' is not an id", "{0} is not an id"),
    (r"(.+) is in the past", "{0} is in the past"),
    (r"Length must be between (\d+) and (\d+)\.", "Length must be between {0} and {1}."),
)


def api_message(text: str) -> str:
    """One message of an API in the user's language (as it is when the console has no words for it)."""
    for pattern, words in API_PATTERNS:
        found = re.fullmatch(pattern, text)
        if found:
            return _(words).format(*found.groups())
    return _(text)


def api_errors(exc) -> tuple[dict[str, list[str]], str]:
    """An API's 422 as a form shows it: each field's messages in the user's language, and one
    message above the form instead of the API's "Invalid json: variants.0.name"."""
    fields = {name: [api_message(m) for m in messages] for name, messages in (exc.fields or {}).items()}
    if fields:
        return fields, _("Please correct the marked fields.")
    return fields, api_message(exc.message)


def named(value: str | None, items: list[dict]) -> str | None:
    """An id as it is; a name typed instead of an id, as the id of the one item with that name."""
    value = (value or "").strip()
    if not value or re.fullmatch(r"[0-9a-f]{24}", value):
        return value or None
    found = [item["id"] for item in items if item.get("name", "").strip().lower() == value.lower()]
    return found[0] if len(found) == 1 else value  # none or several: the service names the field


def number(value):
    """A number typed in a form (None when empty); what is not a number is kept as typed."""
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return value  # the service names the field
