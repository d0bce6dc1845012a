"""The world's names a profile may hold: locales Babel (CLDR) knows, the tz
database's time zones, and a country's main time zone for a guess."""

from __future__ import annotations

import re
import zoneinfo

from shared import normalize

_ZONES: set[str] | None = None


def zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        # Not the files of the zone folder that name no place (the server's own zone, a placeholder).
        _ZONES = zoneinfo.available_timezones() - {"localtime", "Factory", "posixrules"}
    return _ZONES


def known_locale(value: str) -> bool:
    """Whether Babel's locale data (CLDR) knows ``es``, ``es-MX``...: ``xx-ZZ`` is refused."""
    from babel import Locale, UnknownLocaleError

    try:
        parsed = Locale.parse(value, sep="-")
    except (ValueError, UnknownLocaleError):
        return False
    language, _, territory = value.partition("-")
    return parsed.language == language and (not territory or parsed.territory == territory)


_COUNTRY_ZONES: dict[str, list[str]] | None = None


def _zone_table() -> str:
    """The tz database's zone.tab: the system's (zoneinfo.TZPATH), else the tzdata package's."""
    import os
    from importlib import resources

    for folder in zoneinfo.TZPATH:
        path = os.path.join(folder, "zone.tab")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                return handle.read()
    return resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text(encoding="utf-8")


def country_zone(country: str) -> tuple[str | None, int]:
    """(the country's main time zone, how many it has), or (None, 0).

    From the tz database's zone.tab, whose first zone for a country is its most
    populous one where geography allows (Europe/Madrid for ES, America/Mexico_City
    for MX, America/New_York for US); with several zones it is a guess."""
    global _COUNTRY_ZONES
    if _COUNTRY_ZONES is None:
        table: dict[str, list[str]] = {}
        for line in _zone_table().splitlines():
            if line and not line.startswith("#"):
                parts = line.split("\t")
                if len(parts) >= 3 and parts[2] in zones():
                    table.setdefault(parts[0], []).append(parts[2])
        _COUNTRY_ZONES = table
    found = _COUNTRY_ZONES.get(country.upper(), [])
    return (found[0] if found else None), len(found)


# What people write for a country in a spreadsheet besides its code and CLDR's es/en names.
COUNTRY_ALIASES = {
    "uk": "GB",
    "inglaterra": "GB",
    "england": "GB",
    "greatbritain": "GB",
    "granbretana": "GB",
    "usa": "US",
    "eeuu": "US",
    "eua": "US",
    "unitedstatesofamerica": "US",
    "estadosunidosdeamerica": "US",
    "holanda": "NL",
    "holland": "NL",
}
_COUNTRY_NAMES: dict[str, str] | None = None


def _fold(text: str) -> str:
    """Letters and digits only, lower-case, without accents ("EE. UU." -> "eeuu")."""
    return re.sub(r"[\W_]+", "", normalize.fold(text))


def country_code(value: str) -> str | None:
    """The ISO 3166 code of a country written as its code ("es", "MX") or its name in Spanish
    or English, any case or accents ("España", "Reino Unido", "Mexico", "EE. UU."), or None.
    A country is a code with a zone in the tz database (every ISO 3166 country has one; "EU",
    "XX", "ZZ" do not)."""
    global _COUNTRY_NAMES
    country_zone("ES")  # reads the tz database's table once: its keys are the countries
    if _COUNTRY_NAMES is None:
        from babel import Locale

        names = {_fold(alias): code for alias, code in COUNTRY_ALIASES.items()}
        for language in ("en", "es"):
            for code, name in Locale(language).territories.items():
                if code in _COUNTRY_ZONES:
                    names.setdefault(_fold(name), code)
        _COUNTRY_NAMES = names
    if len(value) == 2 and value.upper() in _COUNTRY_ZONES:
        return value.upper()
    return _COUNTRY_NAMES.get(_fold(value))
