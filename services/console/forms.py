"""What several forms of the console share."""

from __future__ import annotations

import json

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
