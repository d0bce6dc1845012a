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
  (day-of-week numbers follow crontab: 0 or 7 = Sunday, 1 = Monday). What
  happens in the DST gap and overlap is in ``shared/cron.py``, which the
  console's preview of the next runs uses too.
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

from shared import cron
from shared.cron import local_to_utc, make_trigger
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


def cron_trigger(expression, tz: ZoneInfo) -> CronTrigger:
    if not isinstance(expression, str) or not expression.strip():
        raise Invalid("schedule.cron", "must be a five-field crontab expression")
    try:
        return make_trigger(expression.strip(), tz)
    except ValueError as exc:
        raise Invalid("schedule.cron", f"not a valid crontab expression: {exc}") from None


def next_cron_fire(schedule: dict, after: datetime.datetime) -> datetime.datetime | None:
    """The first fire time strictly after ``after`` (naive UTC), as naive UTC."""
    fire = cron.next_fire(schedule["cron"], ZoneInfo(schedule["time_zone"]), after.replace(tzinfo=UTC))
    return None if fire is None else fire.replace(tzinfo=None)


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
