"""Crontab expressions for people: in words, and the next run times.

The next runs are computed the way the campaigns service fires them: APScheduler's
CronTrigger in the schedule's IANA time zone, with crontab day numbers
(0 or 7 = Sunday) turned into day names, since APScheduler counts from Monday.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from services.console.i18n import gettext as _

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
DAY_WORDS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
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


def _days(field: str) -> list[int] | None:
    if field == "*":
        return None
    days: set[int] = set()
    for item in field.split(","):
        part, _sep, step = item.partition("/")
        if part == "*":
            low, high = 0, 6
        elif "-" in part:
            low, high = (int(x) for x in part.split("-", 1))
        else:
            low = high = int(part)
        if not (0 <= low <= 7 and 0 <= high <= 7 and low <= high):
            raise ValueError(f"day of week {item!r} is out of range 0-7")
        days.update(day % 7 for day in range(low, high + 1, int(step) if step else 1))
    return sorted(days)


def trigger(expression: str, time_zone: str) -> CronTrigger:
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields, got {len(fields)}")
    minute, hour, day, month, dow = fields
    days = (
        dow
        if any(c.isalpha() for c in dow)
        else ("*" if dow == "*" else ",".join(DAY_NAMES[d] for d in _days(dow)))
    )
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=days, timezone=ZoneInfo(time_zone)
    )


def _next_on_the_wall(wall_trigger: CronTrigger, tz: ZoneInfo, moment: datetime.datetime):
    """The next matching local time after ``moment``, as the scheduler takes it: one in a DST
    gap at the jump (a midnight in Santiago's gap at 01:00), a repeated one once."""
    wall = moment.astimezone(tz).replace(tzinfo=datetime.UTC)
    for _attempt in range(1000):
        wall = wall_trigger.get_next_fire_time(None, wall + datetime.timedelta(microseconds=1))
        if wall is None:
            return None
        at = wall.replace(tzinfo=tz, fold=0).astimezone(datetime.UTC)
        if at > moment:
            return at.astimezone(tz)
    return None


def _next_real_hour(trig: CronTrigger, moment: datetime.datetime) -> list[datetime.datetime]:
    """APScheduler's next fire after ``moment`` (it may answer an earlier one in an overlap)."""
    probe = moment + datetime.timedelta(microseconds=1)
    for _attempt in range(120):
        fire = trig.get_next_fire_time(None, probe)
        if fire is None:
            return []
        if fire > moment:
            return [fire]
        probe += datetime.timedelta(minutes=1)
    return []


def next_runs(
    expression: str, time_zone: str, count: int = 5, after: datetime.datetime | None = None
) -> list[datetime.datetime]:
    """The next ``count`` fire times (aware, in ``time_zone``); [] when the expression is invalid.

    The way the campaigns scheduler fires them (``services/campaigns/schedules.py``): by the wall
    clock, and for an every-hour expression also every real hour of a repeated one."""
    try:
        trig, wall_trig, tz = trigger(expression, time_zone), trigger(expression, "UTC"), ZoneInfo(time_zone)
    except (ValueError, KeyError, LookupError):
        return []
    every_hour = expression.split()[1] == "*"
    moment = after or datetime.datetime.now(datetime.UTC)
    runs: list[datetime.datetime] = []
    for _attempt in range(count * 4):
        found = [f for f in (_next_on_the_wall(wall_trig, tz, moment),) if f is not None]
        if every_hour:
            found += _next_real_hour(trig, moment)
        if not found:
            break
        fire = min(found, key=lambda f: f.astimezone(datetime.UTC))
        runs.append(fire)
        if len(runs) == count:
            break
        moment = fire.astimezone(datetime.UTC)
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
            days = _days(dow) if not any(c.isalpha() for c in dow) else None
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
