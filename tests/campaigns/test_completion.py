"""A campaign is "sent" only when every delivery is terminal (sent, skipped, failed),
and its results say, per reason, who was not sent. Real broker and store; the mailer's
events are published as the mailer publishes them."""

from __future__ import annotations

from shared.messaging.contracts import DeliveryFailed, DeliverySent, DeliverySkipped
from shared.messaging.publisher import Publisher
from tests.campaigns.conftest import bind_queue, fanned_out, make_customers, schedule_campaign, take
from tests.support import wait_consuming, wait_until

FAST = {"VINCULO_CAMPAIGNS_SCHEDULER_POLL_SECONDS": "0.1"}


def start(service_env):
    service_env.start("campaigns", "worker", **FAST)
    service_env.start("campaigns", "scheduler", **FAST)
    for queue in ("campaigns.campaign.due", "campaigns.delivery"):
        wait_consuming(service_env.amqp_url, service_env.topology.name(queue))


def test_a_campaign_with_a_delivery_still_pending_is_sending_until_it_ends(
    api, segment, template, service_env
):
    send_queue = bind_queue(service_env, "send.requested")
    people = [str(c) for c in make_customers(5)]
    start(service_env)
    cid = schedule_campaign(api, segment, template)
    wait_until(lambda: fanned_out(cid), what="the fan-out")
    [request] = [e.event() for e in take(service_env, send_queue)]
    assert sorted(request.customer_ids) == sorted(people) and request.step == "main"
    mailer = Publisher(service_env.amqp_url, service_env.topology, "mailer")

    def event(kind, customer, **extra):
        mailer.publish(
            kind(delivery_id=f"d-{customer}", campaign_id=cid, customer_id=customer, channel="email", **extra)
        )

    event(DeliverySent, people[0])
    event(DeliverySent, people[1])
    event(DeliverySkipped, people[2], reason="no_consent", code="consent_pending")
    event(DeliveryFailed, people[3], reason="the relay does not offer SMTPUTF8", code="smtputf8_unsupported")
    results = wait_until(
        lambda: (lambda r: r if r["skipped"] == 1 and r["failed"] == 1 else None)(
            api.get(f"/campaigns/{cid}/results").get_json()
        ),
        what="the facts counted",
    )
    assert (results["targeted"], results["sent"], results["pending"]) == (5, 2, 1)
    assert results["not_sent"] == {"consent_pending": 1, "smtputf8_unsupported": 1}
    # one delivery is still in the mailer's hands (stuck, deferred, ...): not "sent"
    assert api.get(f"/campaigns/{cid}").get_json()["state"] == "sending"
    event(DeliverySkipped, people[4], reason="suppressed", code="suppressed")
    wait_until(lambda: api.get(f"/campaigns/{cid}").get_json()["state"] == "sent", what="the campaign sent")
    final = api.get(f"/campaigns/{cid}/results").get_json()
    assert final["pending"] == 0 and final["not_sent"] == {
        "consent_pending": 1,
        "smtputf8_unsupported": 1,
        "suppressed": 1,
    }


def test_each_run_of_a_recurring_campaign_is_its_own_step(api, segment, template, service_env):
    import datetime

    from bson import ObjectId

    from services.campaigns.store import campaigns, runs

    send_queue = bind_queue(service_env, "send.requested")
    make_customers(3)
    start(service_env)
    cid = schedule_campaign(
        api, segment, template, schedule={"kind": "cron", "cron": "* * * * *", "time_zone": "UTC"}
    )
    # due now rather than at the next minute
    campaigns().update_one({"_id": ObjectId(cid)}, {"$set": {"next_fire_at": datetime.datetime.utcnow()}})
    [first] = wait_until(lambda: take(service_env, send_queue, limit=1), what="the first run's request")
    run_id = campaigns().find_one({"_id": ObjectId(cid)})["current_run"]
    # its own step, so next week's run reaches the same people again
    assert first.event().step == f"main@{run_id.rsplit(':', 1)[1]}"
    wait_until(lambda: runs().find_one({"_id": run_id})["state"] == "done", what="the first run fanned out")
    assert runs().find_one({"_id": run_id})["outcome"] == "sending"
    assert api.get(f"/campaigns/{cid}").get_json()["state"] == "scheduled"  # waiting for its next fire
