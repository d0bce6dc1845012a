"""Spanish and English: a message catalogue per language, dates by Babel.

Templates call ``_("English text")``; English is the key, the Spanish
catalogue translates it (tests check every text used has a Spanish entry).
The language comes from the session (the switcher), else the setting.
"""

from __future__ import annotations

import datetime
import zoneinfo

from babel.dates import format_datetime, get_timezone
from babel.numbers import format_decimal, format_percent
from flask import current_app, session

from services.console.links import safe_next
from services.console.messages_es import ES

LOCALES = ("es", "en")
# English is the key; the English catalogue only names what is a code.
EN = {
    "community_manager": "community manager",
    "lang_es": "Spanish",
    "lang_en": "English",
    "lang_und": "undetermined",
    "resend-failed": "resend to failed",
}
# Codes the segment pages show in words (operators, fields, kinds of condition).
EN.update(
    {
        "kind_field": "a profile field",
        "kind_near": "near a place",
        "kind_campaign": "a campaign",
        "kind_mention": "a negative mention",
        "kind_purchases": "purchases",
        "kind_consent": "consent",
        "op_eq": "is",
        "op_ne": "is not",
        "op_in": "is one of",
        "op_nin": "is none of",
        "op_all": "has all of",
        "step_send": "send a template",
        "step_wait": "wait",
        "step_branch": "branch",
        "branch_opened": "opened",
        "branch_clicked": "clicked",
        "branch_not_opened": "did not open",
        "branch_not_clicked": "did not click",
        "reentry_never": "never: once per person",
        "reentry_after_exit": "after leaving the journey",
        "op_gt": "> (after)",
        "op_gte": "≥",
        "op_lt": "< (before)",
        "op_lte": "≤",
        "op_between": "between",
        "op_exists": "is set",
        "op_contains": "contains",
        "op_starts_with": "starts with",
        "op_within_last": "within the last",
        "op_more_than_ago": "more than … ago",
        "field_country": "country",
        "field_city": "city",
        "field_locale": "language",
        "field_time_zone": "time zone",
        "field_stage": "stage",
        "field_email": "e-mail",
        "field_phone": "phone",
        "field_first_name": "first name",
        "field_last_name": "last name",
        "field_external_id": "external id",
        "field_tags": "tags",
        "field_created_at": "created",
        "field_updated_at": "updated",
        "field_purchases.last_at": "last purchase",
        "field_purchases.count": "number of purchases",
        "field_purchases.total": "total spent",
        "field_erased": "erased",
    }
)
# A day in "every <day>" (English keeps the singular: "on Monday"; Spanish says "los domingos").
EN.update(
    {
        f"day_plural_{n}": day
        for n, day in enumerate(
            ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
        )
    }
)
CATALOGUES = {"es": ES, "en": EN}


def locale() -> str:
    chosen = session.get("locale")
    if chosen in LOCALES:
        return chosen
    return current_app.config["VINCULO_SETTINGS"].default_locale


def gettext(text: str, **values) -> str:
    translated = CATALOGUES[locale()].get(text, text)
    return translated.format(**values) if values else translated


def parse_iso(value) -> datetime.datetime | None:
    if not value:
        return None
    if isinstance(value, datetime.datetime):
        return value
    try:
        parsed = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


# Zones offered by the picker in the header (any IANA zone is accepted; these come first).
ZONES = (
    "Europe/Madrid",
    "Atlantic/Canary",
    "Europe/London",
    "Europe/Lisbon",
    "America/Mexico_City",
    "America/Bogota",
    "America/Lima",
    "America/Santiago",
    "America/Argentina/Buenos_Aires",
    "America/Caracas",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "UTC",
)


def viewer_zone() -> str:
    """The time zone the viewer chose in the header (UTC until they choose)."""
    chosen = session.get("zone")
    return chosen if chosen in zoneinfo.available_timezones() or chosen == "UTC" else "UTC"


def format_when(value, fmt: str = "medium", tz: str | None = None) -> str:
    """An ISO 8601 instant (naive means UTC) in the user's language, in ``tz`` or else the
    viewer's zone, with the zone named (the "full" format names it itself)."""
    moment = parse_iso(value)
    if moment is None:
        return "—"
    zone = tz or viewer_zone()
    text = format_datetime(moment, format=fmt, tzinfo=get_timezone(zone), locale=locale())
    return text if fmt == "full" else f"{text} ({zone})"


def set_zone():
    """The viewer's time zone (header picker): every time is shown in it."""
    from flask import redirect, request

    chosen = (request.form.get("zone") or "").strip()
    if chosen == "UTC" or chosen in zoneinfo.available_timezones():
        session["zone"] = chosen
    return redirect(safe_next(request.form.get("next")))


def format_number(value, digits: int = 0) -> str:
    if value is None:
        return "—"
    return format_decimal(value, format="#,##0" + ("." + "0" * digits if digits else ""), locale=locale())


def format_rate(value) -> str:
    return "—" if value is None else format_percent(value, format="#,##0.0%", locale=locale())


def init_app(app) -> None:
    app.jinja_env.globals.update(
        _=gettext, locale=locale, LOCALES=LOCALES, viewer_zone=viewer_zone, ZONES=ZONES
    )
    app.add_url_rule("/zone", "set_zone", set_zone, methods=["POST"])
    app.jinja_env.filters.update(when=format_when, number=format_number, rate=format_rate)
