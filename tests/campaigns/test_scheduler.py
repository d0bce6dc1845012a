"""The scheduler: fires once per due time, lease between replicas, missed-run
policy, and two real scheduler processes firing every campaign exactly once."""

from __future__ import annotations

import dataclasses
import datetime
import os
import signal

from bson import ObjectId

from services.campaigns.bootstrap import build
from services.campaigns.scheduler import Scheduler
from services.campaigns.store import campaigns, leases, runs
from shared.store import utcnow
from tests.campaigns.conftest import bind_queue, schedule_campaign, take
from tests.support import wait_until


def scheduler(settings, holder, at):
    return Scheduler(build(settings), holder=holder, clock=lambda: at[0])


def state(cid):
    return campaigns().find_one({"_id": ObjectId(cid)})


def in_an_hour():
    return (utcnow() + datetime.timedelta(hours=1)).replace(microsecond=0).isoformat() + "+00:00"


def test_a_one_shot_fires_once_and_announces_campaign_due(api, settings, segment, template, service_env):
    due_queue = bind_queue(service_env, "campaign.due")
    cid = schedule_campaign(api, segment, template, {"kind": "at", "at": in_an_hour()})
    due_at = state(cid)["next_fire_at"]
    clock = [due_at - datetime.timedelta(seconds=1)]
    one = scheduler(settings, "one", clock)
    assert one.tick() == 0
    clock[0] = due_at + datetime.timedelta(seconds=2)
    assert one.tick() == 1 and one.tick() == 0
    assert state(cid)["state"] == "sending"
    [due] = take(service_env, due_queue)
    event = due.event()
    assert event.campaign_id == cid and event.fire_id == f"{cid}:{due_at:%Y%m%dT%H%M%S}Z"
    assert runs().find_one({"_id": event.fire_id})["state"] == "pending"


def test_the_lease_lets_one_replica_fire_and_passes_on_when_it_expires(
    api, settings, segment, template, service_env
):
    clock = [utcnow()]
    a, b = scheduler(settings, "a", clock), scheduler(settings, "b", clock)
    assert a.acquire_lease(clock[0]) and not b.acquire_lease(clock[0])
    cid = schedule_campaign(api, segment, template)
    clock[0] = utcnow()
    assert b.tick() == 0 and state(cid)["state"] == "scheduled", "b does not hold the lease"
    clock[0] += datetime.timedelta(seconds=settings.scheduler_lease_seconds + 1)
    assert b.tick() == 1 and leases().find_one({"_id": "campaigns"})["holder"] == "b"
    assert not a.acquire_lease(clock[0])


def test_two_replicas_firing_the_same_due_time_publish_once(api, settings, segment, template, service_env):
    """Even without the lease (two replicas both think they hold it), the fire claim keeps it single."""
    due_queue = bind_queue(service_env, "campaign.due")
    cid = schedule_campaign(api, segment, template)
    doc = state(cid)
    now = [utcnow()]
    a, b = scheduler(settings, "a", now), scheduler(settings, "b", now)
    assert a.fire(doc, now[0]) + b.fire(doc, now[0]) == 1
    assert len(take(service_env, due_queue)) == 1
    assert runs().count_documents({"campaign_id": ObjectId(cid)}) == 1


def test_missed_one_shot_fires_within_grace_else_is_marked_missed(
    api, settings, segment, template, service_env
):
    late = schedule_campaign(api, segment, template, {"kind": "at", "at": in_an_hour()})
    missed = schedule_campaign(api, segment, template, {"kind": "at", "at": in_an_hour()})
    due = state(late)["next_fire_at"]
    campaigns().update_one(
        {"_id": ObjectId(missed)},
        {"$set": {"next_fire_at": due - datetime.timedelta(seconds=settings.misfire_grace_seconds)}},
    )
    clock = [due + datetime.timedelta(seconds=settings.misfire_grace_seconds - 10)]
    assert scheduler(settings, "s", clock).tick() == 1
    assert state(late)["state"] == "sending"
    assert state(missed)["state"] == "failed" and state(missed)["failure_reason"].startswith("missed: due at")


def test_missed_recurring_runs_coalesce_into_one(api, settings, segment, template, service_env):
    due_queue = bind_queue(service_env, "campaign.due")
    cid = schedule_campaign(
        api, segment, template, {"kind": "cron", "cron": "*/10 * * * *", "time_zone": "UTC"}
    )
    first = state(cid)["next_fire_at"]
    clock = [first + datetime.timedelta(minutes=35)]  # four times passed: +0, +10, +20, +30
    assert scheduler(settings, "s", clock).tick() == 1
    doc = state(cid)
    assert doc["state"] == "sending" and doc["missed_runs"] == 3
    assert doc["next_fire_at"] == first + datetime.timedelta(minutes=40)
    [due] = take(service_env, due_queue)
    assert due.event().fire_id.endswith(f"{first + datetime.timedelta(minutes=30):%Y%m%dT%H%M%S}Z")
    # Back to scheduled (as after its fan-out) and the scheduler down for longer than the grace: skipped.
    campaigns().update_one({"_id": ObjectId(cid)}, {"$set": {"state": "scheduled"}})
    clock[0] = first + datetime.timedelta(minutes=40 + 20 + 6)  # +40, +50, +60 missed; +60 is 6 min old
    assert scheduler(settings, "s", clock).tick() == 0
    doc = state(cid)
    assert doc["state"] == "scheduled" and doc["missed_runs"] == 6
    assert doc["next_fire_at"] == first + datetime.timedelta(minutes=70)


def test_two_scheduler_processes_fire_every_campaign_exactly_once(api, segment, template, service_env):
    due_queue = bind_queue(service_env, "campaign.due")
    env = {
        "VINCULO_CAMPAIGNS_SCHEDULER_POLL_SECONDS": "0.1",
        "VINCULO_CAMPAIGNS_SCHEDULER_LEASE_SECONDS": "1.5",
    }
    replicas = [service_env.start("campaigns", "scheduler", **env) for _ in range(2)]
    first = [schedule_campaign(api, segment, template) for _ in range(8)]
    wait_until(
        lambda: all(state(c)["state"] == "sending" for c in first), timeout=30, what="first campaigns fired"
    )
    holder = leases().find_one({"_id": "campaigns"})["holder"]
    leader = next(p for p in replicas if f":{p.pid}:" in holder)
    os.kill(leader.pid, signal.SIGKILL)
    leader.wait()
    second = [schedule_campaign(api, segment, template) for _ in range(6)]
    wait_until(
        lambda: all(state(c)["state"] == "sending" for c in second),
        timeout=30,
        what="the surviving replica to take the lease and fire",
    )
    assert leases().find_one({"_id": "campaigns"})["holder"] != holder
    fire_ids = [e.event().fire_id for e in take(service_env, due_queue)]
    assert len(fire_ids) == len(set(fire_ids)) == 14
    assert {f.split(":")[0] for f in fire_ids} == set(first + second)
    assert all(p.poll() is None for p in replicas if p is not leader)


def test_a_fire_during_a_broker_outage_is_kept_and_relayed(api, settings, segment, template, service_env):
    from shared.messaging.publisher import OutboxMessage

    due_queue = bind_queue(service_env, "campaign.due")
    cid = schedule_campaign(api, segment, template)
    down = Scheduler(
        build(dataclasses.replace(settings, amqp_url="amqp://guest:guest@127.0.0.1:1//")), holder="down"
    )
    assert down.tick() == 1 and state(cid)["state"] == "sending"
    assert OutboxMessage.objects.count() == 1 and take(service_env, due_queue) == []
    up = Scheduler(build(settings), holder="down")
    up.tick()  # the holder's next round relays the kept event
    [due] = take(service_env, due_queue)
    assert due.event().campaign_id == cid and due.message_id == f"due:{state(cid)['current_run']}"


def test_a_run_nobody_works_on_is_announced_again(api, settings, segment, template, service_env):
    due_queue = bind_queue(service_env, "campaign.due")
    cid = schedule_campaign(api, segment, template)
    clock = [utcnow()]
    one = scheduler(settings, "one", clock)
    assert one.tick() == 1
    assert len(take(service_env, due_queue)) == 1  # ... and lost: no worker ever claims the run
    clock[0] += datetime.timedelta(seconds=settings.stalled_after_seconds - 1)
    one.tick()
    assert take(service_env, due_queue) == []
    clock[0] += datetime.timedelta(seconds=2)
    one.tick()
    [again] = take(service_env, due_queue)
    assert again.event().fire_id == state(cid)["current_run"]
