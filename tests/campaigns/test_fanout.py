"""Fan-out with real worker and scheduler processes over the real broker:
every recipient once, pause and resume, and a worker killed with SIGKILL
mid fan-out resuming from the checkpoint with no recipient skipped or repeated."""

from __future__ import annotations

import collections
import os
import signal

from bson import ObjectId

from services.campaigns.store import campaigns, runs
from tests.campaigns.conftest import bind_queue, fanned_out, make_customers, schedule_campaign, take
from tests.support import queue_depth, wait_consuming, wait_until

# One store query per 20-recipient message, so that a fan-out of 1,000 lasts long enough (seconds)
# for a pause or a kill to land part-way.
FAST = {
    "VINCULO_CAMPAIGNS_SCHEDULER_POLL_SECONDS": "0.1",
    "VINCULO_CAMPAIGNS_FANOUT_LEASE_SECONDS": "2",
    "VINCULO_CAMPAIGNS_FANOUT_BATCH_SIZE": "20",
    "VINCULO_CAMPAIGNS_FANOUT_READ_SIZE": "20",
}


def state(cid):
    return campaigns().find_one({"_id": ObjectId(cid)})["state"]


def recipients_by_message(envelopes):
    """customer id -> distinct message ids that carried it (a re-published batch keeps its id)."""
    carried = collections.defaultdict(set)
    for envelope in envelopes:
        for customer in envelope.event().customer_ids:
            carried[customer].add(envelope.message_id)
    return carried


def test_every_recipient_gets_exactly_one_request(api, segment, template, service_env):
    send_queue = bind_queue(service_env, "send.requested")
    audience = make_customers(450)
    make_customers(20, locale="en", prefix="en")
    service_env.start(
        "campaigns",
        "worker",
        **{**FAST, "VINCULO_CAMPAIGNS_FANOUT_BATCH_SIZE": "100", "VINCULO_CAMPAIGNS_FANOUT_READ_SIZE": "250"},
    )
    service_env.start("campaigns", "scheduler", **FAST)
    wait_consuming(service_env.amqp_url, service_env.topology.name("campaigns.campaign.due"))
    cid = schedule_campaign(api, segment, template)
    wait_until(lambda: fanned_out(cid), timeout=60, what="the campaign to be fanned out")
    envelopes = take(service_env, send_queue)
    assert [e.event().batch for e in envelopes] == [0, 1, 2, 3, 4]
    first = envelopes[0].event()
    assert (first.campaign_id, first.template_id, first.topic, first.step, first.marketing) == (
        cid,
        template,
        "promotions",
        "main",
        True,
    )
    carried = recipients_by_message(envelopes)
    assert sorted(carried) == sorted(str(c) for c in audience)
    assert all(len(ids) == 1 for ids in carried.values())
    [run] = runs().find({"campaign_id": ObjectId(cid)})
    assert run["state"] == "done" and run["checkpoint"]["batch"] == 5 and run["targeted"] == {"-": 450}


def test_pause_stops_the_fan_out_and_resume_continues_from_the_checkpoint(
    api, segment, template, service_env
):
    send_queue = bind_queue(service_env, "send.requested")
    audience = make_customers(1000)
    service_env.start("campaigns", "worker", **FAST)
    service_env.start("campaigns", "scheduler", **FAST)
    wait_consuming(service_env.amqp_url, service_env.topology.name("campaigns.campaign.due"))
    cid = schedule_campaign(api, segment, template)
    wait_until(lambda: queue_depth(service_env.amqp_url, send_queue) >= 3, timeout=60, what="a few batches")
    assert api.post(f"/campaigns/{cid}/pause").get_json()["campaign"]["paused_from"] == "sending"
    run_id = campaigns().find_one({"_id": ObjectId(cid)})["current_run"]
    wait_until(
        lambda: runs().find_one({"_id": run_id})["state"] == "paused",
        timeout=30,
        what="the worker to stop the fan-out",
    )
    stopped_at = runs().find_one({"_id": run_id})["checkpoint"]["batch"]
    before = take(service_env, send_queue)
    assert 3 <= len(before) == stopped_at < 50, "stopped part-way, nothing published past the checkpoint"
    assert state(cid) == "paused"
    assert api.post(f"/campaigns/{cid}/resume").get_json()["campaign"]["state"] == "sending"
    wait_until(lambda: fanned_out(cid), timeout=90, what="the resumed campaign to finish")
    carried = recipients_by_message(before + take(service_env, send_queue))
    assert sorted(carried) == sorted(str(c) for c in audience)
    assert all(len(ids) == 1 for ids in carried.values())


def test_a_worker_killed_mid_fan_out_is_resumed_with_no_recipient_skipped_or_repeated(
    api, segment, template, service_env
):
    send_queue = bind_queue(service_env, "send.requested")
    audience = make_customers(1000)
    worker = service_env.start("campaigns", "worker", **FAST)
    service_env.start("campaigns", "scheduler", **FAST)
    wait_consuming(service_env.amqp_url, service_env.topology.name("campaigns.campaign.due"))
    cid = schedule_campaign(api, segment, template)
    wait_until(lambda: queue_depth(service_env.amqp_url, send_queue) >= 10, timeout=60, what="some batches")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    run_id = campaigns().find_one({"_id": ObjectId(cid)})["current_run"]
    killed_at = runs().find_one({"_id": run_id})["checkpoint"]["batch"]
    assert 0 < killed_at < 50 and state(cid) == "sending"
    service_env.start("campaigns", "worker", **FAST)
    wait_until(lambda: fanned_out(cid), timeout=90, what="the restarted worker to finish the fan-out")
    envelopes = take(service_env, send_queue)
    carried = recipients_by_message(envelopes)
    assert sorted(carried) == sorted(str(c) for c in audience), "nobody skipped"
    assert all(len(ids) == 1 for ids in carried.values()), "nobody in two different requests"
    # A batch published just before the kill and before its checkpoint is published again with the
    # same message id (at most one such batch): the mailer drops the repeat by id.
    repeats = len(envelopes) - len({e.message_id for e in envelopes})
    assert repeats <= 1
    assert runs().find_one({"_id": run_id})["checkpoint"]["batch"] == 50
