"""A repeating schedule in words, in Spanish and English. (cron-descriptor 2.2.1
was measured for this and not used: its Spanish keeps English day and month
names, "A las 09:00, sólo el Monday".)"""

from __future__ import annotations

import pytest
from flask import session

from tests.console.conftest import in_process_console

CASES = [
    ("0 9 * * 1", "a las 09:00, los lunes", "at 09:00, on Monday"),
    (
        "0 3-4 * * 0",
        "en el minuto 0 de cada hora, de 03:00 a 04:00, los domingos",
        "at minute 0 of every hour from 03:00 to 04:00, on Sunday",
    ),
    (
        "0 9,18 * * 6,0",
        "a las 09:00 y 18:00, los domingos y sábados",
        "at 09:00 and 18:00, on Sunday and Saturday",
    ),
    ("0 10 * 3,4 1", "a las 10:00, en marzo y abril, los lunes", "at 10:00, in March and April, on Monday"),
    ("0 10 * * 1-5", "a las 10:00, de lunes a viernes", "at 10:00, Monday to Friday"),
]


@pytest.mark.parametrize("expression, spanish, english", CASES)
def test_a_cron_reads_right_in_both_languages(service_env, expression, spanish, english):
    from services.console import cron

    app = in_process_console(service_env)
    for language, expected in (("es", spanish), ("en", english)):
        with app.test_request_context():
            session["locale"] = language
            assert cron.describe(expression) == expected


def test_the_next_runs_shown_include_the_day_a_midnight_falls_in_the_dst_gap():
    import datetime

    from services.console import cron

    # Santiago springs forward at 00:00 on 6 Sep 2026: the campaigns scheduler fires at 01:00 then.
    after = datetime.datetime(2026, 9, 4, 12, 0, tzinfo=datetime.UTC)
    runs = cron.next_runs("0 0 * * *", "America/Santiago", count=3, after=after)
    assert [r.strftime("%d %H:%M%z") for r in runs] == ["05 00:00-0400", "06 01:00-0300", "07 00:00-0300"]
    madrid = cron.next_runs(
        "30 2 * * *", "Europe/Madrid", count=3, after=datetime.datetime(2026, 10, 23, 12, tzinfo=datetime.UTC)
    )
    assert [r.strftime("%d %H:%M%z") for r in madrid] == [
        "24 02:30+0200",
        "25 02:30+0200",
        "26 02:30+0100",
    ], "a repeated wall time runs once, as the scheduler fires it"
    hourly = cron.next_runs(
        "0 * * * *",
        "Europe/Madrid",
        count=3,
        after=datetime.datetime(2026, 10, 24, 23, 30, tzinfo=datetime.UTC),
    )
    assert [r.strftime("%H:%M%z") for r in hourly] == ["02:00+0200", "02:00+0100", "03:00+0100"], (
        "both 02:00s hourly"
    )
