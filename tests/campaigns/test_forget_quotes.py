"""Delivery facts are counted, not quoted: facts stored by an earlier version kept the
provider's reason ("550 <ana@ejemplo.es>") and the clicked link (?email=...); the operator's
one-off command takes them out and every count stays."""

from __future__ import annotations

import datetime

from services.campaigns.models import DeliveryFact


def test_forget_quotes_takes_reasons_and_links_out_of_older_facts(service_env):
    at = datetime.datetime(2026, 11, 20, 9, 0)
    older = [
        {"_id": "d1:failed", "type": "failed", "reason": "550 5.1.1 <ñandú@ejemplo.es>: user unknown"},
        {
            "_id": "d2:clicked",
            "type": "clicked",
            "url": "https://tienda.example/?email=%C3%B1and%C3%BA%40ejemplo.es",
        },
        {"_id": "d3:skipped", "type": "skipped", "reason": "no_consent", "code": "no_consent"},
        {"_id": "d4:sent", "type": "sent"},
    ]
    DeliveryFact._get_collection().insert_many(
        [
            {
                **fact,
                "campaign_id": "c1",
                "customer_id": "p",
                "delivery_id": fact["_id"].split(":")[0],
                "bucket": f"-|{fact['type']}",
                "at": at,
            }
            for fact in older
        ]
    )
    for run, changed in ((1, 3), (2, 0)):  # idempotent: a second run changes nothing
        command = service_env.start("campaigns", "forget-quotes")
        assert command.wait(timeout=60) == 0, command.log_path.read_text()
        assert f"{changed} delivery facts no longer quote" in command.log_path.read_text(), run
    stored = {f["_id"]: f for f in DeliveryFact._get_collection().find()}
    assert not [f for f in stored.values() if "reason" in f or "url" in f]
    assert sorted(f["type"] for f in stored.values()) == ["clicked", "failed", "sent", "skipped"]
    assert stored["d3:skipped"]["code"] == "no_consent"  # the short code results count by stays
