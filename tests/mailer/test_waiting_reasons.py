"""A campaign page said "3 still in the mailer (sending, deferred or stuck)" while the mailer
had them deferred for quiet hours until 08:00 and 15:00: the console now reads the mailer's
deferred deliveries of the campaign and says why and when the first goes
(services/console/campaign_report.by_reason, over the mailer's real answer)."""

from __future__ import annotations

import datetime

from bson import ObjectId

from services.console.campaign_report import REASONS, by_reason
from services.mailer.models import Delivery


def deferred(campaign_id: str, code: str | None, due: datetime.datetime) -> None:
    Delivery(
        campaign_id=campaign_id,
        customer_id=ObjectId(),
        step="main",
        channel="email",
        topic="promotions",
        template_id=ObjectId(),
        status="deferred",
        code=code,
        due_at=due,
    ).save()


def test_deferred_deliveries_are_told_by_reason_and_first_try(api):
    at = datetime.datetime(2026, 12, 7, 8, 0)
    later = at + datetime.timedelta(hours=7)
    for n, (code, due) in enumerate(
        [("quiet_hours", at), ("quiet_hours", later), ("capped", at), (None, at)]
    ):
        deferred("c-primavera", code, due + datetime.timedelta(minutes=n))
    deferred("c-otra", "capped", at)  # another campaign's: not waiting here
    answer = api.get(
        "/deliveries", query_string={"campaign_id": "c-primavera", "status": "deferred", "limit": 500}
    )
    assert answer.status_code == 200, answer.get_json()
    rows = by_reason(answer.get_json()["items"])
    assert [(r["code"], r["n"]) for r in rows][0] == ("quiet_hours", 2)
    assert {r["code"]: r["n"] for r in rows} == {"quiet_hours": 2, "capped": 1, "provider_unavailable": 1}
    quiet = rows[0]
    assert quiet["next"].startswith("2026-12-07T08:00")  # the first of them, not the later one
    assert all(r["code"] in REASONS for r in rows)  # each has words on the page
