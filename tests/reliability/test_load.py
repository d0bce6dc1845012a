"""Scenario 6 of issue 8: a sustained load, bounded in count and time, on the
profile (segments) and preference (mailer consents) endpoints. Prints the
latency percentiles and the error rate; asserts only the error rate and that
every write reads back, never a time. bench/reliability/load.py runs the same
load by hand with larger bounds."""

from __future__ import annotations

import pytest

from bench.reliability.load import run_load, verify

pytestmark = pytest.mark.slow


def test_sustained_load_on_profile_and_preference_endpoints_has_no_errors_and_loses_no_write(service_env):
    segments = service_env.start_api("segments", VINCULO_SEGMENTS_WEB_WORKERS="2")
    mailer = service_env.start_api("mailer", VINCULO_MAILER_WEB_WORKERS="2")
    service_env.start("segments", "worker")  # consumes the consent events, as in production
    figures = run_load(segments, mailer, threads=16, seconds=15, max_requests=1500)
    print("\n" + figures.report())
    assert figures.requests > 0 and figures.written
    assert figures.errors == [], figures.report()  # every request here is valid: no 4xx, no 5xx expected
    assert verify(segments, mailer, figures) == []
