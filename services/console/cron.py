"""Crontab expressions for people: in words, and the next run times.

The next runs come from the module the campaigns scheduler fires them with
(``shared/cron.py``: crontab day numbers, DST gaps and overlaps).
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from services.console.i18n import gettext as _
from shared import cron

MONTH_WORDS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def next_runs(
    expression: str, time_zone: str, count: int = 5, after: datetime.datetime | None = None
) -> list[datetime.datetime]:
    """The next ``count`` fire times (aware, in ``time_zone``) as the campaigns scheduler fires
    them (``shared/cron.py``); [] when the expression or the zone is invalid."""
    try:
        tz = ZoneInfo(time_zone)
        cron.make_trigger(expression, tz)
    except (ValueError, KeyError, LookupError):
        return []
    moment = after or datetime.datetime.now(datetime.UTC)
    runs: list[datetime.datetime] = []
    while len(runs) < count:
        fire = cron.next_fire(expression, tz, moment)
        if fire is None:
            break
        runs.append(fire.astimezone(tz))
        moment = fire
    return runs


def _list(words: list[str]) -> str:
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " " + _("and") + " " + words[-1]


def describe(expression: str) -> str:
    """'0 9 * * 1' -> 'at 09:00, on Monday' (in the user's language); '' when not understood."""
    fields = (expression or "").split()
    if len(fields) != 5:
        return ""
    minute, hour, day, month, dow = fields
    try:
        parts = []
        if minute.isdigit() and hour.isdigit():
            parts.append(_("at {time}", time=f"{int(hour):02d}:{int(minute):02d}"))
        elif minute.isdigit() and "," in hour and all(h.isdigit() for h in hour.split(",")):
            parts.append(
                _("at {time}", time=_list([f"{int(h):02d}:{int(minute):02d}" for h in hour.split(",")]))
            )
        elif minute.isdigit() and hour == "*":
            parts.append(_("every hour at minute {minute}", minute=int(minute)))
        elif minute.startswith("*/") and hour == "*":
            parts.append(_("every {n} minutes", n=int(minute[2:])))
        elif minute == "*" and hour == "*":
            parts.append(_("every minute"))
        elif minute.isdigit() and "-" in hour and all(h.isdigit() for h in hour.split("-", 1)):
            start, end = (int(h) for h in hour.split("-", 1))
            parts.append(
                _(
                    "at minute {minute} of every hour from {start} to {end}",
                    minute=int(minute),
                    start=f"{start:02d}:00",
                    end=f"{end:02d}:{int(minute):02d}",
                )
            )
        elif minute.isdigit() and hour.startswith("*/"):
            parts.append(_("every {n} hours at minute {minute}", n=int(hour[2:]), minute=int(minute)))
        else:
            parts.append(_("at minute {minute} of hour {hour}", minute=minute, hour=hour))
        if day != "*":
            parts.append(_("on day {days} of the month", days=_list(day.split(","))))
        if month != "*":
            names = [_(MONTH_WORDS[int(m) - 1]) if m.isdigit() else m for m in month.split(",")]
            parts.append(_("in {months}", months=_list(names)))
        if dow != "*":
            days = cron.crontab_days(dow) if not any(c.isalpha() for c in dow) else None
            if days == [1, 2, 3, 4, 5]:
                parts.append(_("Monday to Friday"))
            elif days is not None:
                # "los domingos": the days as a repeating thing (plural in Spanish)
                parts.append(_("on {days}", days=_list([_(f"day_plural_{d}") for d in days])))
            else:
                parts.append(_("on {days}", days=dow))
        elif day == "*" and month == "*" and (hour.isdigit() or "," in hour):
            parts.append(_("every day"))
        return ", ".join(parts)
    except (ValueError, IndexError):
        return ""
