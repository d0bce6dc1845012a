"""Results from delivery events over the real broker: counts per campaign and
per variant that stay right under redelivery, unsubscribes, conversions in
the window, cost and ROI, results over time, resend to failed."""

from __future__ import annotations

import datetime

from bson import ObjectId

from services.campaigns import content
from services.campaigns.models import DeliveryFact
from shared.messaging.contracts import (
    CampaignDue,
    ConsentChanged,
    DeliveryBounced,
    DeliveryClicked,
    DeliveryFailed,
    DeliveryOpened,
    DeliverySent,
    PurchaseRecorded,
)
from shared.messaging.publisher import Publisher
from tests.campaigns.conftest import (
    bind_queue,
    fanned_out,
    make_customers,
    make_template,
    take,
)
from tests.support import drain, wait_consuming, wait_until

FAST = {"VINCULO_CAMPAIGNS_SCHEDULER_POLL_SECONDS": "0.1"}


def both_variants(campaign: dict, n: int) -> list[ObjectId]:
    """``n`` customer ids that the campaign's split does not give all to one variant."""
    while True:
        ids = [ObjectId() for _ in range(n)]
        if len({content.assign(campaign, str(i))[1] for i in ids}) > 1:
            return ids


def test_results_per_campaign_and_variant_survive_duplicates_and_compute_roi(api, segment, service_env):
    send_queue = bind_queue(service_env, "send.requested")
    a, b = make_template(name="a"), make_template(name="b")
    service_env.start("campaigns", "worker", **FAST)
    service_env.start("campaigns", "scheduler", **FAST)
    for queue in ("campaigns.campaign.due", "campaigns.delivery", "campaigns.triggers", "campaigns.consent"):
        wait_consuming(service_env.amqp_url, service_env.topology.name(queue))
    variants = [{"name": "A", "template_id": a, "split": 50}, {"name": "B", "template_id": b, "split": 50}]
    created = api.post(
        "/campaigns",
        json={
            "name": "c",
            "channel": "email",
            "topic": "promotions",
            "segment_id": str(segment.id),
            "template_id": None,
            "schedule": {"kind": "now"},
            "cost": 50.0,
            "goal": {"window_hours": 48},
            "variants": variants,
        },
    )
    assert created.status_code == 201, created.get_json()
    cid = created.get_json()["id"]
    # Ten people of whom both variants get some: the split hashes the campaign's id and the
    # customer's, so ten random ids all fall in one variant about once in 500 runs.
    people = [str(c) for c in make_customers(10, ids=both_variants({"_id": cid, "variants": variants}, 10))]
    assert api.post(f"/campaigns/{cid}/schedule").status_code == 200
    wait_until(lambda: fanned_out(cid), what="the campaign fanned out")
    variant_of = {}
    for envelope in take(service_env, send_queue):
        event = envelope.event()
        assert event.template_id == {"A": a, "B": b}[event.variant]
        variant_of.update({customer: event.variant for customer in event.customer_ids})
    assert sorted(variant_of) == sorted(people) and set(variant_of.values()) == {"A", "B"}

    mailer = Publisher(service_env.amqp_url, service_env.topology, "mailer")
    segments = Publisher(service_env.amqp_url, service_env.topology, "segments")

    def delivery(kind, customer, **extra):
        mailer.publish(
            kind(
                delivery_id=f"d-{customer}",
                campaign_id=cid,
                customer_id=customer,
                channel="email",
                variant=variant_of[customer],
                **extra,
            )
        )

    failed, ok = people[:2], people[2:]
    for customer in failed:
        delivery(DeliveryFailed, customer, reason="smtp 451")
    for customer in ok:
        delivery(DeliverySent, customer)
    delivery(DeliverySent, ok[0])  # a duplicate from the mailer (new message id): counts once
    delivery(DeliveryBounced, ok[1], reason="5.1.1 user unknown")
    for customer in ok[2:6]:
        delivery(DeliveryOpened, customer)
    delivery(DeliveryOpened, ok[2])  # a second open of the same message: unique opens
    for customer in ok[2:4]:
        delivery(DeliveryClicked, customer, url="https://example.com/rebajas")
    mailer.publish(
        ConsentChanged(
            customer_id=ok[3],
            channel="email",
            topic="promotions",
            status="revoked",
            source="unsubscribe",
            campaign_id=cid,
        )
    )
    now = datetime.datetime.now(datetime.UTC)
    buyer, late_buyer = ok[2], ok[4]
    purchase = PurchaseRecorded(
        customer_id=buyer,
        order_id="o-1",
        amount=120.0,
        currency="EUR",
        purchased_at=(now + datetime.timedelta(hours=1)).isoformat(),
    )
    segments.publish(purchase)
    segments.publish(purchase)  # redelivered with a new message id: one conversion
    segments.publish(
        PurchaseRecorded(
            customer_id=late_buyer,
            order_id="o-2",
            amount=80.0,
            currency="EUR",
            purchased_at=(now + datetime.timedelta(hours=60)).isoformat(),
        )
    )
    segments.publish(
        PurchaseRecorded(
            customer_id=people[0],
            order_id="o-3",
            amount=30.0,
            currency="EUR",
            purchased_at=(now + datetime.timedelta(hours=1)).isoformat(),
        )
    )

    def results():
        body = api.get(f"/campaigns/{cid}/results").get_json()
        return (
            body
            if (
                body["sent"],
                body["failed"],
                body["opened"],
                body["clicked"],
                body["unsubscribed"],
                body["bounced"],
                body["conversions"],
            )
            == (8, 2, 4, 2, 1, 1, 1)
            else None
        )

    totals = wait_until(results, timeout=30, what="every event counted")
    # Counted, not quoted: the provider's reason and the clicked link stay with the mailer.
    stored = list(DeliveryFact._get_collection().find({"campaign_id": cid}))
    assert stored and not [f for f in stored if "reason" in f or "url" in f]
    assert totals["targeted"] == 10 and totals["delivered"] == 7
    assert totals["revenue"] == 120.0 and totals["cost"] == 50.0 and totals["roi"] == 1.4
    assert totals["open_rate"] == round(4 / 7, 4)
    by_variant = {row["variant"]: row for row in totals["variants"]}
    for name in ("A", "B"):
        mine = [c for c in people if variant_of[c] == name]
        row = by_variant[name]
        assert row["targeted"] == len(mine)
        assert row["sent"] == len([c for c in ok if variant_of[c] == name])
        assert row["failed"] == len([c for c in failed if variant_of[c] == name])
        assert row["opened"] == len([c for c in ok[2:6] if variant_of[c] == name])
        assert row["revenue"] == (120.0 if variant_of[buyer] == name else 0)
    assert sum(r["targeted"] for r in by_variant.values()) == 10

    timeline = api.get(f"/campaigns/{cid}/results/timeline?bucket=day&time_zone=Europe/Madrid").get_json()
    assert sum(p["sent"] for p in timeline["points"]) == 8
    assert sum(p["revenue"] for p in timeline["points"]) == 120.0
    assert api.get(f"/campaigns/{cid}/results/timeline?time_zone=Nowhere/Land").status_code == 422

    # Resend to failed: only the two failed recipients; once one is sent it no longer counts as failed.
    retry_queue = bind_queue(service_env, "send.requested", name="retry")
    # A resend needs the run finished (the scheduler's tick moves the campaign to sent).
    wait_until(lambda: api.get(f"/campaigns/{cid}").get_json()["state"] == "sent", what="the campaign sent")
    assert api.post(f"/campaigns/{cid}/resend-failed").get_json()["requested"] == 2
    retried = [e.event() for e in take(service_env, retry_queue)]
    assert sorted(c for e in retried for c in e.customer_ids) == sorted(failed)
    assert all(e.retry_failed and e.template_id == {"A": a, "B": b}[e.variant] for e in retried)
    delivery(DeliverySent, failed[0])
    wait_until(
        lambda: api.get(f"/campaigns/{cid}/results").get_json()["failed"] == 1, what="a recovered delivery"
    )

    # A campaign.due for a run that does not exist is dead-lettered with the reason; the worker goes on.
    Publisher(service_env.amqp_url, service_env.topology, "campaigns").publish(
        CampaignDue(campaign_id=cid, fire_id="no-such-run", due_at=now.isoformat())
    )
    letters = []
    dlq = service_env.topology.name("campaigns.campaign.due.dlq")
    wait_until(lambda: letters.extend(drain(service_env.amqp_url, dlq)) or letters, what="the dead letter")
    assert letters[0].headers["x-vinculo-reason"] == "poison: unknown run no-such-run"
    delivery(DeliveryOpened, ok[6])
    wait_until(
        lambda: api.get(f"/campaigns/{cid}/results").get_json()["opened"] == 5, what="the worker going on"
    )


def test_the_hourly_timeline_keeps_both_hours_of_the_night_clocks_go_back(api):
    from services.campaigns.models import DeliveryFact
    from services.campaigns.results import timeline

    # Madrid, 25 Oct 2026: 02:30 CEST (00:30 UTC) and, an hour later, 02:30 CET (01:30 UTC).
    for n, at in enumerate(
        [datetime.datetime(2026, 10, 25, 0, 30), datetime.datetime(2026, 10, 25, 1, 30)] * 2
    ):
        DeliveryFact(
            id=f"d{n}:sent", campaign_id="c-dst", customer_id=f"p{n}", delivery_id=f"d{n}", type="sent", at=at
        ).save()
    points = timeline({"_id": "c-dst"}, "hour", "Europe/Madrid")
    assert [(p["at"], p["sent"]) for p in points] == [
        ("2026-10-25T02:00:00+02:00", 2),
        ("2026-10-25T02:00:00+01:00", 2),
    ]
    [day] = timeline({"_id": "c-dst"}, "day", "Europe/Madrid")
    assert (day["at"], day["sent"]) == ("2026-10-25T00:00:00+02:00", 4)
