"""The world's names a profile may hold: locales Babel (CLDR) knows, the tz
database's time zones, and a country's main time zone for a guess."""

from __future__ import annotations

import zoneinfo

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
