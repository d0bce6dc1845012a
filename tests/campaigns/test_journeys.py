"""Triggered journeys over the real broker: events enroll customers (filter,
delay), steps send, wait and branch on opens; per-customer state; re-entry."""

from __future__ import annotations

import datetime

from services.campaigns.bootstrap import build
from services.campaigns.scheduler import Scheduler
from services.campaigns.store import enrollments
from shared.messaging.contracts import CustomerCreated, DeliveryOpened, MentionReceived
from shared.messaging.publisher import Publisher
from shared.store import utcnow
from tests.campaigns.conftest import bind_queue, make_customers, make_template, take
from tests.support import wait_consuming, wait_until


def start(api, body):
    cid = api.post("/campaigns", json={"channel": "email", "topic": "newsletter", **body})
    assert cid.status_code == 201, cid.get_json()
    cid = cid.get_json()["id"]
    scheduled = api.post(f"/campaigns/{cid}/schedule")
    assert scheduled.status_code == 200, scheduled.get_json()
    return cid


def worker(service_env):
    service_env.start("campaigns", "worker")
    for queue in ("campaigns.triggers", "campaigns.delivery"):
        wait_consuming(service_env.amqp_url, service_env.topology.name(queue))


def sends(service_env, queue, n):
    got = []
    wait_until(
        lambda: got.extend(e.event() for e in take(service_env, queue)) or len(got) >= n,
        what=f"{n} send requests",
    )
    assert len(got) == n, got
    return sorted((e.customer_ids[0], e.step, e.template_id) for e in got)


def test_welcome_journey_waits_then_branches_on_the_open(api, settings, service_env):
    send_queue = bind_queue(service_env, "send.requested")
    welcome, vip, reminder = (make_template(name=n) for n in ("welcome", "vip", "reminder"))
    opener, silent, late, filtered = (str(c) for c in make_customers(4))
    cid = start(
        api,
        {
            "name": "Bienvenida",
            "schedule": {
                "kind": "trigger",
                "event": "customer.created",
                "filter": {"source": {"$in": ["api", "import"]}},
            },
            "journey": {
                "reentry": "never",
                "steps": [
                    {"id": "welcome", "type": "send", "template_id": welcome},
                    {"id": "two-days", "type": "wait", "days": 2},
                    {
                        "id": "opened",
                        "type": "branch",
                        "if": "opened",
                        "of": "welcome",
                        "then": "vip",
                        "else": "reminder",
                    },
                    {"id": "vip", "type": "send", "template_id": vip, "next": "end"},
                    {"id": "reminder", "type": "send", "template_id": reminder},
                ],
            },
        },
    )
    worker(service_env)
    segments = Publisher(service_env.amqp_url, service_env.topology, "segments")
    segments.publish(CustomerCreated(customer_id=opener, source="import"))
    segments.publish(CustomerCreated(customer_id=silent))
    segments.publish(CustomerCreated(customer_id=filtered, source="web_form"))
    assert sends(service_env, send_queue, 2) == sorted(
        [(opener, "welcome", welcome), (silent, "welcome", welcome)]
    )

    Publisher(service_env.amqp_url, service_env.topology, "mailer").publish(
        DeliveryOpened(
            delivery_id="d-open", campaign_id=cid, customer_id=opener, channel="email", step="welcome"
        )
    )
    wait_until(lambda: api.get(f"/campaigns/{cid}/results").get_json()["opened"] == 1, what="the open")
    # Re-entry "never": a second customer.created for the same person does nothing; a new person enters.
    segments.publish(CustomerCreated(customer_id=opener))
    segments.publish(CustomerCreated(customer_id=late))
    assert sends(service_env, send_queue, 1) == [(late, "welcome", welcome)]
    assert enrollments().count_documents({"campaign_id": cid, "customer_id": opener}) == 1
    assert enrollments().count_documents({"campaign_id": cid, "customer_id": filtered}) == 0

    scheduler_at = [utcnow() + datetime.timedelta(days=1)]
    scheduler = Scheduler(build(settings), clock=lambda: scheduler_at[0])
    scheduler.tick()
    assert take(service_env, send_queue) == [], "still waiting"
    scheduler_at[0] = utcnow() + datetime.timedelta(days=2, minutes=1)
    scheduler.tick()
    assert sends(service_env, send_queue, 3) == sorted(
        [(opener, "vip", vip), (silent, "reminder", reminder), (late, "reminder", reminder)]
    )
    done = enrollments().find_one({"campaign_id": cid, "customer_id": opener})
    assert done["status"] == "done"
    assert [h["step"] for h in done["history"]] == ["welcome", "opened", "vip"]
    assert [h.get("result") for h in done["history"]] == [None, True, None]
    assert api.get(f"/campaigns/{cid}/results").get_json()["targeted"] == 6


def test_negative_mention_recovery_with_a_delay_and_re_entry_after_exit(api, settings, service_env):
    send_queue = bind_queue(service_env, "send.requested")
    sorry = make_template(name="lo-sentimos")
    customer = str(make_customers(1)[0])
    start(
        api,
        {
            "name": "Recuperación",
            "topic": "service",
            "template_id": sorry,
            "schedule": {
                "kind": "trigger",
                "event": "mention.received",
                "delay_seconds": 600,
                "filter": {"label": "negative", "sentiment": {"$lte": -0.3}},
            },
            "journey": {
                "reentry": "after_exit",
                "steps": [{"id": "sorry", "type": "send", "template_id": sorry}],
            },
        },
    )
    worker(service_env)
    listener = Publisher(service_env.amqp_url, service_env.topology, "listener")

    def mention(n, label, sentiment):
        listener.publish(
            MentionReceived(
                mention_id=f"m{n}",
                query_id="q",
                source="x",
                post_id=f"p{n}",
                author_handle="lucia",
                lang="es",
                sentiment=sentiment,
                label=label,
                posted_at=utcnow().isoformat() + "+00:00",
                customer_id=customer,
            )
        )

    mention(1, "negative", -0.7)
    mention(2, "positive", 0.8)
    mention(3, "negative", -0.1)
    wait_until(lambda: enrollments().count_documents({"customer_id": customer}) == 1, what="the enrollment")
    clock = [utcnow()]
    scheduler = Scheduler(build(settings), clock=lambda: clock[0])
    scheduler.tick()
    assert take(service_env, send_queue) == [], "the delay is not over"
    clock[0] = utcnow() + datetime.timedelta(minutes=11)
    scheduler.tick()
    [first] = [e.event() for e in take(service_env, send_queue)]
    assert (first.step, first.marketing, first.customer_ids) == ("sorry", False, [customer])
    mention(4, "negative", -0.9)  # after exit: enters again, and the step name keeps the mailer's key unique
    wait_until(lambda: enrollments().count_documents({"customer_id": customer}) == 2, what="the re-entry")
    clock[0] = utcnow() + datetime.timedelta(minutes=11)
    scheduler.tick()
    assert sends(service_env, send_queue, 1) == [(customer, "sorry@2", sorry)]


def test_journey_steps_are_validated_naming_the_step(api, service_env):
    welcome = make_template()
    base = {
        "name": "j",
        "channel": "email",
        "topic": "newsletter",
        "schedule": {"kind": "trigger", "event": "customer.created"},
    }
    cases = [
        (
            [
                {"id": "a", "type": "send", "template_id": welcome},
                {"type": "branch", "if": "opened", "of": "a", "then": "nowhere"},
            ],
            "journey.steps.1.then",
        ),
        (
            [
                {"type": "branch", "if": "opened", "of": "b"},
                {"id": "b", "type": "send", "template_id": welcome},
            ],
            "journey.steps.0.of",
        ),
        ([{"id": "a", "type": "send", "template_id": welcome}, {"type": "wait"}], "journey.steps.1.hours"),
        ([{"id": "a", "type": "send", "template_id": "0" * 24}], "journey.steps.0.template_id"),
        ([{"id": "a", "type": "teleport"}], "journey.steps.0.type"),
        ([{"id": "a", "type": "send", "template_id": welcome, "next": "zzz"}], "journey.steps.0.next"),
    ]
    for steps, field in cases:
        response = api.post("/campaigns", json={**base, "journey": {"steps": steps}})
        assert response.status_code == 422 and field in response.get_json()["details"]["fields"], (
            field,
            response.get_json(),
        )
    now_journey = api.post(
        "/campaigns",
        json={
            **base,
            "schedule": {"kind": "now"},
            "journey": {"steps": [{"type": "send", "template_id": welcome}]},
        },
    )
    assert "journey" in now_journey.get_json()["details"]["fields"]
