"""Schedules: local times in IANA zones stored as UTC, DST gaps and overlaps,
cron across DST changes, trigger filters."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from services.campaigns.schedules import local_to_utc, matches, next_cron_fire, parse_schedule
from shared.errors import Invalid

MADRID = ZoneInfo("Europe/Madrid")
NOW = datetime.datetime(2026, 3, 1, 12, 0)


def dt(*args):
    return datetime.datetime(*args)


def test_a_local_time_is_stored_as_utc_with_the_zone_offset_of_that_date():
    winter, _ = parse_schedule({"kind": "at", "at": "2026-03-28T09:00", "time_zone": "Europe/Madrid"}, NOW)
    summer, _ = parse_schedule({"kind": "at", "at": "2026-03-30T09:00", "time_zone": "Europe/Madrid"}, NOW)
    assert winter["at"] == dt(2026, 3, 28, 8, 0) and summer["at"] == dt(2026, 3, 30, 7, 0)
    mexico, first = parse_schedule(
        {"kind": "at", "at": "2026-03-30T09:00", "time_zone": "America/Mexico_City"}, NOW
    )
    assert mexico["at"] == first == dt(2026, 3, 30, 15, 0)
    offset, _ = parse_schedule({"kind": "at", "at": "2026-10-25T02:30+01:00"}, NOW)
    assert offset["at"] == dt(2026, 10, 25, 1, 30), "an explicit offset wins"


def test_dst_gap_moves_forward_and_overlap_takes_the_first_occurrence():
    assert local_to_utc(dt(2026, 3, 29, 2, 30), MADRID) == (dt(2026, 3, 29, 1, 30), "gap")  # = 03:30 CEST
    assert local_to_utc(dt(2026, 10, 25, 2, 30), MADRID) == (dt(2026, 10, 25, 0, 30), "ambiguous")  # CEST
    assert local_to_utc(dt(2026, 7, 1, 9, 0), MADRID) == (dt(2026, 7, 1, 7, 0), None)
    stored, _ = parse_schedule({"kind": "at", "at": "2026-03-29T02:30", "time_zone": "Europe/Madrid"}, NOW)
    assert stored["adjusted"] == "gap"


def test_cron_keeps_local_wall_time_across_both_dst_changes():
    daily = {"kind": "cron", "cron": "0 9 * * *", "time_zone": "Europe/Madrid"}
    fires, at = [], dt(2026, 3, 27, 12, 0)
    for _ in range(3):
        at = next_cron_fire(daily, at)
        fires.append(at)
    assert fires == [dt(2026, 3, 28, 8, 0), dt(2026, 3, 29, 7, 0), dt(2026, 3, 30, 7, 0)]
    new_york = {"kind": "cron", "cron": "30 8 * * 1", "time_zone": "America/New_York"}
    assert next_cron_fire(new_york, dt(2026, 10, 28)) == dt(2026, 11, 2, 13, 30)  # EST after 1 Nov
    assert next_cron_fire(new_york, dt(2026, 10, 20)) == dt(2026, 10, 26, 12, 30)  # EDT
    weekend = {"kind": "cron", "cron": "0 10 * * 0,6", "time_zone": "UTC"}  # crontab: 0 = Sunday
    assert next_cron_fire(weekend, dt(2026, 11, 23)) == dt(2026, 11, 28, 10, 0)  # Saturday
    weekdays = {"kind": "cron", "cron": "0 10 * * 1-5", "time_zone": "UTC"}
    assert next_cron_fire(weekdays, dt(2026, 11, 21)) == dt(2026, 11, 23, 10, 0)  # Monday
    sunday = {"kind": "cron", "cron": "0 10 * * 7", "time_zone": "UTC"}
    assert next_cron_fire(sunday, dt(2026, 11, 23)) == dt(2026, 11, 29, 10, 0)


def test_cron_in_the_fall_back_overlap_fires_once_and_in_the_gap_at_the_jump():
    night = {"kind": "cron", "cron": "30 2 * * *", "time_zone": "Europe/Madrid"}
    fires, at = [], dt(2026, 10, 23, 12, 0)
    for _ in range(3):
        at = next_cron_fire(night, at)
        fires.append(at)
    assert fires == [dt(2026, 10, 24, 0, 30), dt(2026, 10, 25, 0, 30), dt(2026, 10, 26, 1, 30)]
    assert next_cron_fire(night, dt(2026, 3, 28, 12, 0)) == dt(2026, 3, 29, 1, 30)  # 03:30 CEST
    hourly = {"kind": "cron", "cron": "0 * * * *", "time_zone": "Europe/Madrid"}
    assert next_cron_fire(hourly, dt(2026, 10, 25, 0, 30)) == dt(2026, 10, 25, 1, 0), (
        "both 02:00s fire hourly"
    )


@pytest.mark.parametrize(
    "zone, after, jump",
    [
        # Santiago springs forward at midnight: 6 Sep 2026 starts at 01:00 (-03).
        ("America/Santiago", dt(2026, 9, 4, 12, 0), dt(2026, 9, 6, 4, 0)),
        # Havana too: 8 Mar 2026 starts at 01:00 (-04).
        ("America/Havana", dt(2026, 3, 6, 12, 0), dt(2026, 3, 8, 5, 0)),
    ],
)
def test_a_daily_midnight_cron_fires_at_the_jump_where_the_day_starts_at_one(zone, after, jump):
    midnight = {"kind": "cron", "cron": "0 0 * * *", "time_zone": zone}
    fires, at = [], after
    for _ in range(3):
        at = next_cron_fire(midnight, at)
        fires.append(at)
    assert fires[1] == jump, f"the day of the change was skipped: {fires}"
    assert fires[2] - fires[1] == datetime.timedelta(hours=23), fires


@pytest.mark.parametrize(
    "schedule, field",
    [
        ({"kind": "at", "at": "2026-02-01T09:00", "time_zone": "Europe/Madrid"}, "schedule.at"),
        ({"kind": "at", "at": "mañana", "time_zone": "Europe/Madrid"}, "schedule.at"),
        ({"kind": "at", "at": "2026-05-01T09:00", "time_zone": "Europe/Nowhere"}, "schedule.time_zone"),
        ({"kind": "cron", "cron": "0 25 * * *", "time_zone": "UTC"}, "schedule.cron"),
        ({"kind": "cron", "cron": "0 9 * * *", "time_zone": "Etc/Nope"}, "schedule.time_zone"),
        # Files of the zone folder that are no place: the server's own zone, leap-second and
        # POSIX copies (right/ runs 27 s off UTC), the tz database's placeholder.
        ({"kind": "cron", "cron": "0 9 * * *", "time_zone": "localtime"}, "schedule.time_zone"),
        ({"kind": "cron", "cron": "0 9 * * *", "time_zone": "right/Europe/Madrid"}, "schedule.time_zone"),
        ({"kind": "at", "at": "2026-05-01T09:00", "time_zone": "posix/Europe/Madrid"}, "schedule.time_zone"),
        ({"kind": "at", "at": "2026-05-01T09:00", "time_zone": "Factory"}, "schedule.time_zone"),
        ({"kind": "trigger", "event": "customer.created", "delay_seconds": -5}, "schedule.delay_seconds"),
        (
            {"kind": "trigger", "event": "mention.received", "filter": {"sentiment": {"$regex": "x"}}},
            "schedule.filter.sentiment",
        ),
    ],
)
def test_bad_schedules_name_the_field(schedule, field):
    with pytest.raises(Invalid) as raised:
        parse_schedule(schedule, NOW)
    assert field in raised.value.body_details()["fields"]


def test_now_and_trigger_schedules():
    assert parse_schedule({"kind": "now"}, NOW) == ({"kind": "now"}, NOW)
    stored, first = parse_schedule(
        {
            "kind": "trigger",
            "event": "mention.received",
            "filter": {"label": "negative", "sentiment": {"$lt": -0.3}},
            "delay_seconds": 600,
        },
        NOW,
    )
    assert first is None and stored["delay_seconds"] == 600
    assert matches(stored["filter"], {"label": "negative", "sentiment": -0.6})
    assert not matches(stored["filter"], {"label": "negative", "sentiment": -0.1})
    assert not matches(stored["filter"], {"label": "positive", "sentiment": -0.9})
    assert matches(
        {"amount": {"$gte": 50}, "currency": {"$in": ["EUR"]}}, {"amount": 80.0, "currency": "EUR"}
    )
    # The README's welcome journey that does not greet imported contacts.
    not_imported = {"source": {"$ne": "import"}}
    assert matches(not_imported, {"customer_id": "c1", "source": "web_form"})
    assert not matches(not_imported, {"customer_id": "c1", "source": "import"})
