"""Send-time decisions as pure functions: consent, suppression, cap, quiet hours."""

from __future__ import annotations

import datetime

from services.mailer.policy import decide, quiet_until

QUIET = (datetime.time(21, 0), datetime.time(9, 0))
CUSTOMER = {"email": "a@example.com", "time_zone": "Europe/Madrid"}


def check(**kw):
    args = dict(
        customer=CUSTOMER,
        channel="email",
        topic="newsletter",
        marketing=True,
        consent="granted",
        suppressed_hash=False,
        recent_marketing=0,
        cap=3,
        quiet=QUIET,
        now=datetime.datetime(2026, 6, 1, 10, 0),
    )
    args.update(kw)
    return decide(**args)


def test_consent_and_suppression():
    assert check().action == "send"
    assert check(consent=None).reason == "no_consent"
    assert check(consent="pending").reason == "no_consent"
    assert check(suppressed_hash=True).reason == "suppressed"
    assert check(customer={**CUSTOMER, "suppression": {"bounced": True}}).reason == "suppressed"
    assert check(customer={**CUSTOMER, "erased": True}).reason == "erased"
    assert check(customer={"phone": "+34600111222"}).reason == "no_address"
    assert check(customer=None).reason == "unknown_customer"


def test_transactional_needs_service_topic_and_ignores_cap_and_quiet_hours():
    night = datetime.datetime(2026, 6, 1, 23, 0)
    assert (
        check(marketing=False, topic="service", consent=None, recent_marketing=9, now=night).action == "send"
    )
    assert check(marketing=False, topic="service", consent="revoked").reason == "no_consent"
    assert check(marketing=False, topic="promotions").reason == "not_transactional_topic"
    assert check(marketing=False, topic="service", suppressed_hash=True).reason == "suppressed"


def test_frequency_cap():
    assert check(recent_marketing=2).action == "send"
    assert check(recent_marketing=3).reason == "capped"
    assert check(recent_marketing=30, cap=0).action == "send"


def test_quiet_hours_in_the_recipients_time_zone():
    # 20:30 UTC in June is 22:30 in Madrid (quiet until 09:00 = 07:00 UTC) but 16:30 in New York
    now = datetime.datetime(2026, 6, 1, 20, 30)
    assert quiet_until(now, "Europe/Madrid", QUIET) == datetime.datetime(2026, 6, 2, 7, 0)
    assert quiet_until(now, "America/New_York", QUIET) is None
    # 02:00 Madrid: ends the same local day
    assert quiet_until(datetime.datetime(2026, 6, 2, 0, 0), "Europe/Madrid", QUIET) == datetime.datetime(
        2026, 6, 2, 7, 0
    )
    decision = check(now=now)
    assert decision.action == "defer" and decision.due_at == datetime.datetime(2026, 6, 2, 7, 0)
    assert quiet_until(now, "Europe/Madrid", (datetime.time(13, 0), datetime.time(14, 0))) is None
    assert quiet_until(now, "Not/AZone", None) is None
