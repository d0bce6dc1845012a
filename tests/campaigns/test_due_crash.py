"""campaign.due and send.requested across a crash, with real processes killed (SIGKILL,
through the ``VINCULO_FAULT`` fault points the product reads). Neither needs an outbox
intent: the run document is the durable fact. A scheduler killed after firing (run and
campaign written, campaign.due not published) has the pending run announced again by
the stalled-run sweep, once; a fan-out killed after publishing a batch and before its
checkpoint publishes that batch again with the same message id, and nobody is in two
different requests."""

from __future__ import annotations

import datetime

from bson import ObjectId

from services.campaigns.bootstrap import build
from services.campaigns.scheduler import Scheduler
from services.campaigns.store import campaigns, runs
from shared.store import utcnow
from tests.campaigns.conftest import bind_queue, fanned_out, make_customers, schedule_campaign, take
from tests.campaigns.test_fanout import FAST, recipients_by_message
from tests.support import wait_consuming, wait_until


def test_a_scheduler_killed_after_firing_has_the_run_announced_once_by_the_sweep(
    api, settings, segment, template, service_env
):
    due_queue = bind_queue(service_env, "campaign.due")
    cid = schedule_campaign(api, segment, template)
    scheduler = service_env.start(
        "campaigns",
        "scheduler",
        VINCULO_FAULT="after_write",
        VINCULO_CAMPAIGNS_SCHEDULER_LEASE_SECONDS="1",
        **FAST,
    )
    assert scheduler.wait(timeout=60) == -9, scheduler.log_path.read_text()[-2000:]
    campaign = campaigns().find_one({"_id": ObjectId(cid)})
    run_id = campaign["current_run"]
    assert campaign["state"] == "sending" and runs().find_one({"_id": run_id})["state"] == "pending"
    assert take(service_env, due_queue) == []  # fired, not announced

    clock = [utcnow() + datetime.timedelta(seconds=settings.stalled_after_seconds + 1)]
    other = Scheduler(build(settings), holder="other", clock=lambda: clock[0])
    other.tick()
    other.tick()  # once: the sweep's touch moved the run forward
    [due] = take(service_env, due_queue)
    assert (due.event().campaign_id, due.event().fire_id) == (cid, run_id)


def test_a_fan_out_killed_after_a_batch_and_before_its_checkpoint_publishes_it_again_with_its_id(
    api, settings, segment, template, service_env
):
    send_queue = bind_queue(service_env, "send.requested")
    audience = make_customers(60)
    worker = service_env.start("campaigns", "worker", VINCULO_FAULT="after_publish", **FAST)
    wait_consuming(service_env.amqp_url, service_env.topology.name("campaigns.campaign.due"))
    cid = schedule_campaign(api, segment, template)
    assert Scheduler(build(settings), holder="one").tick() == 1
    assert worker.wait(timeout=60) == -9, worker.log_path.read_text()[-2000:]
    run_id = campaigns().find_one({"_id": ObjectId(cid)})["current_run"]
    assert runs().find_one({"_id": run_id})["checkpoint"]["batch"] == 0
    first = take(service_env, send_queue)
    assert [e.message_id for e in first] == [f"{run_id}:main:0:-"]

    service_env.start("campaigns", "worker", **FAST)  # takes the redelivered campaign.due over
    wait_until(lambda: fanned_out(cid), timeout=60, what="the restarted worker to finish the fan-out")
    rest = take(service_env, send_queue)
    assert [e.message_id for e in rest] == [f"{run_id}:main:{n}:-" for n in range(3)]
    carried = recipients_by_message(first + rest)
    assert sorted(carried) == sorted(str(c) for c in audience)
    assert all(len(ids) == 1 for ids in carried.values())  # the repeat carries the same id
