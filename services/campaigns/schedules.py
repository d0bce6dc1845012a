"""Schedules: when a campaign fires, stored as naive UTC.

Kinds:

* ``now``: fires as soon as it is scheduled.
* ``at``: a local date-time in an IANA time zone (``"2026-12-01T09:00"`` +
  ``"Europe/Madrid"``), or an ISO time with an offset. Stored as UTC.
  A local time that does not exist (the spring-forward gap, e.g. 02:30 on
  2026-03-29 in Madrid) is moved forward by the gap (03:30 CEST); a local time
  that happens twice (the fall-back overlap) means the first occurrence (the
  summer-time one). Send an explicit offset to choose the other. The stored
  schedule says which adjustment was made (``adjusted``: gap | ambiguous).
* ``cron``: a five-field crontab expression evaluated in a time zone by
  APScheduler's CronTrigger, so "09:00 every day" stays 09:00 local across DST
  (day-of-week numbers follow crontab: 0 or 7 = Sunday, 1 = Monday).
  Fall-back: a wall time that repeats fires once, on its first occurrence
  (expressions with ``*`` hours fire every real hour). Spring-forward: a time
  inside the gap fires at the instant the clocks jump (02:30 -> 03:30 local).
* ``trigger``: an event (customer.created, segment.entered, purchase.recorded,
  mention.received) with an optional payload filter and a delay in seconds.
"""

from __future__ import annotations

import datetime
import functools
import operator
import zoneinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from shared.errors import Invalid

UTC = datetime.UTC
KINDS = ("now", "at", "cron", "trigger")
TRIGGER_EVENTS = ("customer.created", "segment.entered", "purchase.recorded", "mention.received")
FILTER_OPS = ("$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in")


# Files of the zone folder that name no place: the server's own zone, and a placeholder.
NOT_PLACES = frozenset({"localtime", "Factory", "posixrules"})


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - NOT_PLACES


def zone(name, field: str = "schedule.time_zone") -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise Invalid(field, "must be an IANA time zone name such as Europe/Madrid")
    # ZoneInfo opens any file of the zone folder: right/ copies count leap seconds (27 s off UTC).
    if name not in _zone_names():
        raise Invalid(field, f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(field, f"unknown time zone {name!r}") from None


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


DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _crontab_days(field: str) -> str:
    """Crontab day-of-week numbers (0 or 7 = Sunday) -> names.

    APScheduler 3 numbers days from Monday = 0, so ``from_crontab("0 9 * * 1")``
    would fire on Tuesdays; names mean the same to both.
    """
    if field == "*" or any(ch.isalpha() for ch in field):
        return field
    days: set[int] = set()
    for item in field.split(","):
        part, _, step = item.partition("/")
        if part == "*":
            low, high = 0, 6
        elif "-" in part:
            low, high = (int(x) for x in part.split("-", 1))
        else:
            low = high = int(part)
        if not (0 <= low <= 7 and 0 <= high <= 7 and low <= high) or (step and int(step) < 1):
            raise ValueError(f"day of week {item!r} is out of range 0-7")
        days.update(day % 7 for day in range(low, high + 1, int(step) if step else 1))
    return ",".join(DAY_NAMES[day] for day in sorted(days))


def make_trigger(expression: str, tz: ZoneInfo) -> CronTrigger:
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"Wrong number of fields; got {len(fields)}, expected 5")
    minute, hour, day, month, day_of_week = fields
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=_crontab_days(day_of_week), timezone=tz
    )


def cron_trigger(expression, tz: ZoneInfo) -> CronTrigger:
    if not isinstance(expression, str) or not expression.strip():
        raise Invalid("schedule.cron", "must be a five-field crontab expression")
    try:
        return make_trigger(expression.strip(), tz)
    except ValueError as exc:
        raise Invalid("schedule.cron", f"not a valid crontab expression: {exc}") from None


def _next_wall_fire(expression: str, tz: ZoneInfo, start: datetime.datetime) -> datetime.datetime | None:
    """The first fire after ``start`` (aware UTC) found on the wall clock: the next matching local
    time, taken to UTC by ``local_to_utc`` (a time in a gap fires at the jump, a repeated one once).

    APScheduler 3.11 skips a day whose matching time falls in a gap that crosses midnight
    (America/Santiago and America/Havana spring forward from 00:00 to 01:00), so a daily
    campaign at 00:00 would not fire that day; the wall clock does not lose it."""
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


def next_cron_fire(schedule: dict, after: datetime.datetime) -> datetime.datetime | None:
    """The first fire time strictly after ``after`` (naive UTC), as naive UTC."""
    tz = ZoneInfo(schedule["time_zone"])
    found = _next_apscheduler_fire(schedule, tz, after)
    by_wall = _next_wall_fire(schedule["cron"], tz, after.replace(tzinfo=UTC))
    if by_wall is not None and (found is None or by_wall.replace(tzinfo=None) < found):
        return by_wall.replace(tzinfo=None)
    return found


def _next_apscheduler_fire(
    schedule: dict, tz: ZoneInfo, after: datetime.datetime
) -> datetime.datetime | None:
    trigger = make_trigger(schedule["cron"], tz)
    every_hour = schedule["cron"].split()[1] == "*"
    start = after.replace(tzinfo=UTC)
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
        return candidate.replace(tzinfo=None)
    return None


def parse_schedule(data, now: datetime.datetime) -> tuple[dict, datetime.datetime | None]:
    """Validate a schedule from the API -> (stored schedule, first fire time in UTC)."""
    if not isinstance(data, dict):
        raise Invalid("schedule", "must be an object with a kind")
    kind = data.get("kind")
    if kind not in KINDS:
        raise Invalid("schedule.kind", f"must be one of {', '.join(KINDS)}")
    if kind == "now":
        return {"kind": "now"}, now
    if kind == "at":
        return _parse_at(data, now)
    if kind == "cron":
        tz_name = data.get("time_zone", "UTC")
        tz = zone(tz_name)
        cron_trigger(data.get("cron"), tz)
        stored = {"kind": "cron", "cron": data["cron"].strip(), "time_zone": tz_name}
        first = next_cron_fire(stored, now)
        if first is None:
            raise Invalid("schedule.cron", "never fires")
        return stored, first
    return _parse_trigger(data), None


def _parse_at(data: dict, now: datetime.datetime):
    raw = data.get("at")
    if not isinstance(raw, str):
        raise Invalid("schedule.at", "must be an ISO 8601 date-time")
    try:
        value = datetime.datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid("schedule.at", f"not an ISO 8601 date-time: {raw!r}") from None
    tz_name = data.get("time_zone")
    adjusted = None
    if value.tzinfo is not None:
        if tz_name is not None:
            zone(tz_name)
        at = value.astimezone(UTC).replace(tzinfo=None)
    else:
        if tz_name is None:
            raise Invalid("schedule.time_zone", "is required when schedule.at has no UTC offset")
        at, adjusted = local_to_utc(value, zone(tz_name))
    if at < now:
        raise Invalid("schedule.at", f"{raw} is in the past")
    stored = {"kind": "at", "at": at, "local": raw, "time_zone": tz_name, "adjusted": adjusted}
    return stored, at


def _parse_trigger(data: dict) -> dict:
    event = data.get("event")
    if event not in TRIGGER_EVENTS:
        raise Invalid("schedule.event", f"must be one of {', '.join(TRIGGER_EVENTS)}")
    flt = data.get("filter") or {}
    if not isinstance(flt, dict):
        raise Invalid("schedule.filter", "must be an object of payload field -> value or {op: value}")
    for key, cond in flt.items():
        if isinstance(cond, dict):
            bad = [op for op in cond if op not in FILTER_OPS]
            if bad:
                raise Invalid(
                    f"schedule.filter.{key}", f"unknown operator {bad[0]} (use {', '.join(FILTER_OPS)})"
                )
    delay = data.get("delay_seconds", 0)
    if isinstance(delay, bool) or not isinstance(delay, int) or delay < 0:
        raise Invalid("schedule.delay_seconds", "must be a whole number of seconds, 0 or more")
    return {"kind": "trigger", "event": event, "filter": flt, "delay_seconds": delay}


_COMPARE = {"$lt": operator.lt, "$lte": operator.le, "$gt": operator.gt, "$gte": operator.ge}


def _passes(op: str, value, expected) -> bool:
    if op == "$eq":
        return value == expected
    if op == "$ne":
        return value != expected
    if op == "$in":
        return value in (expected or [])
    return value is not None and _COMPARE[op](value, expected)


def matches(flt: dict, payload: dict) -> bool:
    """Does an event payload pass a trigger filter?"""
    for key, cond in (flt or {}).items():
        value = payload.get(key)
        conds = cond if isinstance(cond, dict) else {"$eq": cond}
        for op, expected in conds.items():
            try:
                ok = _passes(op, value, expected)
            except TypeError:
                ok = False
            if not ok:
                return False
    return True
