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
