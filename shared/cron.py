"""Crontab schedules in a time zone, fired the way people read them: one module for the
campaigns scheduler that fires them and the console that shows the next runs.

APScheduler's CronTrigger does the matching; what it gets wrong is mended here:

* Crontab day-of-week numbers (0 or 7 = Sunday) become day names: APScheduler 3 numbers
  days from Monday = 0, so ``from_crontab("0 9 * * 1")`` would fire on Tuesdays.
* Fall-back: a wall time that repeats fires once, on its first occurrence (expressions
  with ``*`` hours fire every real hour, both 02:00s included).
* Spring-forward: a time inside the gap fires at the instant the clocks jump (02:30 ->
  03:30 local). APScheduler 3.11 skips a day whose matching time falls in a gap that
  crosses midnight (America/Santiago and America/Havana spring forward from 00:00 to
  01:00), so the wall clock is asked too and the earlier answer wins.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

UTC = datetime.UTC
DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def crontab_days(field: str) -> list[int] | None:
    """Crontab day-of-week numbers -> sorted day numbers (0 = Sunday); None for ``*``.
    Raises ValueError for a number or step out of range."""
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
        if not (0 <= low <= 7 and 0 <= high <= 7 and low <= high) or (step and int(step) < 1):
            raise ValueError(f"day of week {item!r} is out of range 0-7")
        days.update(day % 7 for day in range(low, high + 1, int(step) if step else 1))
    return sorted(days)


def _day_names(field: str) -> str:
    """The day-of-week field as APScheduler reads it (names mean the same to both)."""
    if field == "*" or any(ch.isalpha() for ch in field):
        return field
    return ",".join(DAY_NAMES[day] for day in crontab_days(field))


def make_trigger(expression: str, tz: ZoneInfo) -> CronTrigger:
    """A five-field crontab expression in ``tz``; ValueError when it is not one."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"Wrong number of fields; got {len(fields)}, expected 5")
    minute, hour, day, month, day_of_week = fields
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=_day_names(day_of_week), timezone=tz
    )


def local_to_utc(local: datetime.datetime, tz: ZoneInfo) -> tuple[datetime.datetime, str | None]:
    """A naive local wall time in ``tz`` -> (naive UTC, adjustment made or None)."""
    first = local.replace(tzinfo=tz, fold=0)
    second = local.replace(tzinfo=tz, fold=1)
    utc = first.astimezone(UTC)
    adjusted = None
    if utc.astimezone(tz).replace(tzinfo=None) != local:
        adjusted = "gap"  # fold=0 uses the offset before the jump: moves forward by the gap
    elif first.utcoffset() != second.utcoffset():
        adjusted = "ambiguous"  # first occurrence kept
    return utc.replace(tzinfo=None), adjusted


def _next_wall_fire(expression: str, tz: ZoneInfo, start: datetime.datetime) -> datetime.datetime | None:
    """The first fire after ``start`` (aware UTC) found on the wall clock: the next matching local
    time, taken to UTC by ``local_to_utc`` (a time in a gap fires at the jump, a repeated one once)."""
    wall_trigger = make_trigger(expression, ZoneInfo("UTC"))
    wall = start.astimezone(tz).replace(tzinfo=UTC)
    for _ in range(1000):
        wall = wall_trigger.get_next_fire_time(None, wall + datetime.timedelta(microseconds=1))
        if wall is None:
            return None
        at, _ = local_to_utc(wall.replace(tzinfo=None), tz)
        if at.replace(tzinfo=UTC) > start:
            return at.replace(tzinfo=UTC)
    return None


def _next_apscheduler_fire(
    expression: str, tz: ZoneInfo, start: datetime.datetime
) -> datetime.datetime | None:
    trigger = make_trigger(expression, tz)
    every_hour = expression.split()[1] == "*"
    probe = start + datetime.timedelta(microseconds=1)
    for _ in range(10000):
        candidate = trigger.get_next_fire_time(None, probe)
        if candidate is None:
            return None
        candidate = candidate.astimezone(UTC)
        if candidate <= start:
            # APScheduler 3.11 can answer a time before `now` inside a fall-back overlap.
            probe += datetime.timedelta(minutes=1)
            continue
        local = candidate.astimezone(tz)
        if local.fold == 1 and not every_hour and local.replace(fold=0).utcoffset() != local.utcoffset():
            probe = candidate + datetime.timedelta(microseconds=1)  # the repeated wall time
            continue
        return candidate
    return None


def next_fire(expression: str, tz: ZoneInfo, after: datetime.datetime) -> datetime.datetime | None:
    """The first fire time strictly after ``after`` (aware), as aware UTC; None when there is none.
    Raises ValueError for an expression that is not a crontab one."""
    start = after.astimezone(UTC)
    found = _next_apscheduler_fire(expression, tz, start)
    by_wall = _next_wall_fire(expression, tz, start)
    if by_wall is not None and (found is None or by_wall < found):
        return by_wall
    return found
