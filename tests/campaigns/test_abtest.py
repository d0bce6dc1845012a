"""A/B tests: the winner rule (best rate, ties, small samples) and a whole
test over the broker: the test share gets the variants, the rest the winner."""

from __future__ import annotations

import datetime

from bson import ObjectId

from services.campaigns.abtest import choose_winner
from services.campaigns.bootstrap import build
from services.campaigns.content import assign
from services.campaigns.scheduler import Scheduler
from services.campaigns.store import campaigns, runs
from shared.messaging.contracts import DeliveryOpened, DeliverySent
from shared.messaging.publisher import Publisher
from shared.store import utcnow
from tests.campaigns.conftest import (
    bind_queue,
    fanned_out,
    make_customers,
    make_template,
    schedule_campaign,
    take,
)
from tests.support import wait_consuming, wait_until

CAMPAIGN = {
    "variants": [{"name": "A", "split": 50}, {"name": "B", "split": 50}, {"name": "C", "split": 0.5}],
    "ab_test": {"metric": "open", "min_sample": 100},
}


def stats(*rows):
    return {
        name: {"sent": sent, "bounced": 0, "opened": opened, "clicked": 0, "delivered": sent}
        for name, sent, opened in rows
    }


def test_the_best_rate_wins():
    assert choose_winner(CAMPAIGN, stats(("A", 200, 20), ("B", 200, 50), ("C", 150, 30)))[:2] == (
        "B",
        "best_rate",
    )


def test_a_tie_goes_to_the_first_listed_of_the_tied():
    assert choose_winner(CAMPAIGN, stats(("A", 200, 20), ("B", 200, 50), ("C", 100, 25)))[:2] == ("B", "tie")


def test_a_small_sample_keeps_the_first_variant():
    assert choose_winner(CAMPAIGN, stats(("A", 200, 2), ("B", 99, 90), ("C", 300, 200)))[:2] == (
        "A",
        "small_sample",
    )


def test_click_metric_counts_clicks():
    campaign = {**CAMPAIGN, "ab_test": {"metric": "click", "min_sample": 1}}
    rows = stats(("A", 10, 9), ("B", 10, 1), ("C", 10, 0))
    rows["B"]["clicked"] = 3
    assert choose_winner(campaign, rows)[:2] == ("B", "best_rate")


def test_assignment_is_deterministic_and_follows_the_shares():
    campaign = {
        "_id": ObjectId(),
        "variants": [{"name": "A", "split": 50}, {"name": "B", "split": 50}],
        "ab_test": {"test_share": 20},
    }
    people = [str(ObjectId()) for _ in range(4000)]
    first = [assign(campaign, p) for p in people]
    assert first == [assign(campaign, p) for p in people]
    test = [v for g, v in first if g == "test"]
    assert 600 < len(test) < 1000 and 250 < test.count("A") < 550
    assert all(v is None for g, v in first if g == "rest")


def test_the_test_share_gets_the_variants_and_the_rest_gets_the_winner(api, settings, segment, service_env):
    send_queue = bind_queue(service_env, "send.requested")
    audience = {str(c) for c in make_customers(200)}
    a, b = make_template(name="a"), make_template(name="b")
    service_env.start("campaigns", "worker", VINCULO_CAMPAIGNS_FANOUT_BATCH_SIZE="50")
    for queue in ("campaigns.campaign.due", "campaigns.delivery"):
        wait_consuming(service_env.amqp_url, service_env.topology.name(queue))
    cid = schedule_campaign(
        api,
        segment,
        None,
        variants=[{"name": "A", "template_id": a, "split": 50}, {"name": "B", "template_id": b, "split": 50}],
        ab_test={"test_share": 50, "metric": "open", "window_hours": 1, "min_sample": 10},
    )
    clock = [utcnow()]
    scheduler = Scheduler(build(settings), clock=lambda: clock[0])
    assert scheduler.tick() == 1
    run_id = campaigns().find_one({"_id": ObjectId(cid)})["current_run"]
    wait_until(
        lambda: runs().find_one({"_id": run_id})["state"] == "waiting_winner", what="the test share sent"
    )
    test = {c: e.variant for e in (x.event() for x in take(service_env, send_queue)) for c in e.customer_ids}
    assert 60 < len(test) < 140 and set(test.values()) == {"A", "B"}
    assert api.get(f"/campaigns/{cid}").get_json()["state"] == "sending"

    mailer = Publisher(service_env.amqp_url, service_env.topology, "mailer")
    got = {"A": [c for c in test if test[c] == "A"], "B": [c for c in test if test[c] == "B"]}
    for name, share_opened in (("A", 0.2), ("B", 0.6)):
        for i, customer in enumerate(got[name]):
            mailer.publish(
                DeliverySent(
                    delivery_id=f"d{customer}",
                    campaign_id=cid,
                    customer_id=customer,
                    channel="email",
                    variant=name,
                )
            )
            if i < len(got[name]) * share_opened:
                mailer.publish(
                    DeliveryOpened(
                        delivery_id=f"d{customer}",
                        campaign_id=cid,
                        customer_id=customer,
                        channel="email",
                        variant=name,
                    )
                )
    wait_until(lambda: api.get(f"/campaigns/{cid}/results").get_json()["sent"] == len(test), what="facts")

    clock[0] = utcnow() + datetime.timedelta(minutes=30)
    scheduler.tick()
    assert runs().find_one({"_id": run_id})["state"] == "waiting_winner", "the window is not over"
    clock[0] = utcnow() + datetime.timedelta(hours=2)
    scheduler.tick()
    wait_until(lambda: fanned_out(cid), what="the rest fanned out")
    run = runs().find_one({"_id": run_id})
    assert (run["ab"]["winner"], run["ab"]["reason"]) == ("B", "best_rate")
    rest = [x.event() for x in take(service_env, send_queue)]
    assert {(e.variant, e.template_id) for e in rest} == {("B", b)}
    rest_people = [c for e in rest for c in e.customer_ids]
    assert len(rest_people) == len(set(rest_people)) and not set(rest_people) & set(test)
    assert set(rest_people) | set(test) == audience
    results = api.get(f"/campaigns/{cid}/results").get_json()
    assert results["targeted"] == 200
    assert {r["variant"]: r["targeted"] for r in results["variants"]}["B"] == len(got["B"]) + len(rest_people)
