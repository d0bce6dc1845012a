"""The campaigns API: validation naming the field, every lifecycle action,
409 with the current state for invalid transitions."""

from __future__ import annotations

import datetime

import pytest
from bson import ObjectId

from services.campaigns.store import campaigns, facts
from shared.store import utcnow
from tests.campaigns.conftest import make_template
from tests.support import ANALYST_KEY


def future(days=3):
    return (datetime.datetime.now() + datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def body(segment, template, **extra):
    return {
        "name": "Rebajas de invierno",
        "channel": "email",
        "topic": "promotions",
        "segment_id": str(segment.id),
        "template_id": template,
        "schedule": {"kind": "at", "at": future(), "time_zone": "Europe/Madrid"},
        "cost": 100.0,
        "goal": {"window_hours": 48},
        **extra,
    }


def fields(response):
    assert response.status_code == 422, response.get_json()
    return response.get_json()["details"]["fields"]


def test_create_read_list_edit_delete(api, segment, template):
    created = api.post("/campaigns", json=body(segment, template))
    assert created.status_code == 201, created.get_json()
    campaign = created.get_json()
    assert campaign["state"] == "draft" and campaign["schedule"]["time_zone"] == "Europe/Madrid"
    assert api.get(f"/campaigns/{campaign['id']}").get_json()["name"] == "Rebajas de invierno"
    second = api.post("/campaigns", json=body(segment, template, name="Otra")).get_json()
    page = api.get("/campaigns?limit=1").get_json()
    assert page["total"] == 2 and [c["id"] for c in page["items"]] == [second["id"]]
    rest = api.get(f"/campaigns?limit=1&cursor={page['next']}").get_json()
    assert [c["id"] for c in rest["items"]] == [campaign["id"]] and rest["next"] is None
    edited = api.patch(f"/campaigns/{campaign['id']}", json={"name": "Rebajas"})
    assert edited.status_code == 200 and edited.get_json()["name"] == "Rebajas"
    assert api.delete(f"/campaigns/{campaign['id']}").status_code == 204
    assert api.get(f"/campaigns/{campaign['id']}").status_code == 404
    # analysts read, do not write
    from tests.campaigns.conftest import Api

    analyst = Api(api.client, ANALYST_KEY)
    assert analyst.get(f"/campaigns/{second['id']}").status_code == 200
    assert analyst.post("/campaigns", json=body(segment, template)).status_code == 403


@pytest.mark.parametrize(
    "change, field",
    [
        ({"segment_id": str(ObjectId())}, "segment_id"),
        ({"segment_id": "nope"}, "segment_id"),
        ({"template_id": str(ObjectId())}, "template_id"),
        ({"schedule": {"kind": "at", "at": "2020-01-01T09:00", "time_zone": "Europe/Madrid"}}, "schedule.at"),
        ({"schedule": {"kind": "at", "at": future(), "time_zone": "Europe/Atlantis"}}, "schedule.time_zone"),
        ({"schedule": {"kind": "at", "at": future()}}, "schedule.time_zone"),
        ({"schedule": {"kind": "cron", "cron": "61 9 * * *", "time_zone": "Europe/Madrid"}}, "schedule.cron"),
        ({"schedule": {"kind": "cron", "cron": "0 9 * *", "time_zone": "Europe/Madrid"}}, "schedule.cron"),
        (
            {"schedule": {"kind": "cron", "cron": "0 9 * * *", "time_zone": "Mars/Olympus"}},
            "schedule.time_zone",
        ),
        ({"schedule": {"kind": "weekly"}}, "schedule.kind"),
        ({"schedule": {"kind": "trigger", "event": "order.shipped"}}, "schedule.event"),
        ({"topic": "gossip"}, "topic"),
        ({"cost": -1}, "cost"),
    ],
)
def test_invalid_campaigns_answer_422_naming_the_field(api, segment, template, change, field):
    assert field in fields(api.post("/campaigns", json={**body(segment, template), **change}))


def test_templates_must_exist_on_the_channel_and_not_be_archived(api, segment):
    sms = make_template("sms")
    archived = make_template(archived=True)
    assert "template_id" in fields(api.post("/campaigns", json=body(segment, sms)))
    assert "template_id" in fields(api.post("/campaigns", json=body(segment, archived)))
    good = make_template()
    variants = [
        {"name": "A", "template_id": good, "split": 50},
        {"name": "B", "template_id": sms, "split": 50},
    ]
    assert "variants.1.template_id" in fields(
        api.post("/campaigns", json=body(segment, None, variants=variants))
    )
    variants[1]["template_id"] = good
    variants[1]["split"] = 40
    assert "variants" in fields(api.post("/campaigns", json=body(segment, None, variants=variants)))


def test_editing_a_scheduled_campaign_is_validated_like_creating(api, segment, template):
    campaign = api.post("/campaigns", json=body(segment, template)).get_json()
    assert api.post(f"/campaigns/{campaign['id']}/schedule").status_code == 200
    url = f"/campaigns/{campaign['id']}"
    assert "schedule.at" in fields(
        api.patch(
            url, json={"schedule": {"kind": "at", "at": "2021-05-01T10:00", "time_zone": "Europe/Madrid"}}
        )
    )
    assert "schedule.cron" in fields(api.patch(url, json={"schedule": {"kind": "cron", "cron": "bad"}}))
    assert "segment_id" in fields(api.patch(url, json={"segment_id": str(ObjectId())}))
    assert "template_id" in fields(api.patch(url, json={"template_id": str(ObjectId())}))
    moved = api.patch(
        url, json={"schedule": {"kind": "cron", "cron": "0 9 * * 1", "time_zone": "America/New_York"}}
    )
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["state"] == "scheduled" and moved.get_json()["next_fire_at"]
    assert api.get(url).get_json()["schedule"]["cron"] == "0 9 * * 1"


def test_every_lifecycle_action_and_409_with_the_current_state(api, segment, template):
    cid = api.post("/campaigns", json=body(segment, template)).get_json()["id"]
    url = f"/campaigns/{cid}"

    def act(action, status=200):
        response = api.post(f"{url}/{action}")
        assert response.status_code == status, (action, response.get_json())
        return response.get_json()

    def state():
        return api.get(url).get_json()["state"]

    for action in ("pause", "resume", "unschedule", "resend-failed"):
        assert act(action, 409)["details"]["current"] == "draft"
    assert act("schedule")["campaign"]["state"] == "scheduled"
    assert act("schedule", 409)["details"]["current"] == "scheduled"
    assert act("unschedule")["campaign"]["state"] == "draft"
    act("schedule")
    assert act("pause")["campaign"]["paused_from"] == "scheduled"
    assert act("pause", 409)["details"]["current"] == "paused"
    assert act("resume")["campaign"]["state"] == "scheduled"
    # sending (as the scheduler sets it) -> paused -> sending
    campaigns().update_one({"_id": ObjectId(cid)}, {"$set": {"state": "sending"}})
    assert act("pause")["campaign"]["paused_from"] == "sending"
    assert act("resume")["campaign"]["state"] == "sending"
    assert api.patch(url, json={"name": "x"}).get_json()["details"]["current"] == "sending"
    assert act("cancel")["campaign"]["state"] == "cancelled"
    for action in ("schedule", "pause", "resume", "cancel", "resend-failed"):
        assert act(action, 409)["details"]["current"] == "cancelled"
    assert state() == "cancelled"
    assert api.delete(url).status_code == 204

    # draft -> cancelled; sent -> resend-failed; sent cannot be cancelled or deleted
    other = api.post("/campaigns", json=body(segment, template)).get_json()["id"]
    assert api.post(f"/campaigns/{other}/cancel").get_json()["campaign"]["state"] == "cancelled"
    sent = api.post("/campaigns", json=body(segment, template)).get_json()["id"]
    campaigns().update_one({"_id": ObjectId(sent)}, {"$set": {"state": "sent"}})
    response = api.post(f"/campaigns/{sent}/resend-failed")
    assert response.status_code == 200 and response.get_json()["requested"] == 0
    assert api.post(f"/campaigns/{sent}/cancel").get_json()["details"]["current"] == "sent"
    assert api.delete(f"/campaigns/{sent}").get_json()["details"]["current"] == "sent"


def test_resend_to_failed_requests_only_recipients_still_failed(api, app, segment, template, service_env):
    from kombu import Connection, Queue

    from shared.messaging.contracts import parse_envelope
    from tests.support import drain

    cid = api.post("/campaigns", json=body(segment, template)).get_json()["id"]
    campaigns().update_one({"_id": ObjectId(cid)}, {"$set": {"state": "sent"}})
    people = [str(ObjectId()) for _ in range(3)]
    now = utcnow()
    rows = [
        ("d0", people[0], "failed"),
        ("d1", people[1], "failed"),
        ("d1", people[1], "sent"),
        ("d2", people[2], "sent"),
    ]
    facts().insert_many(
        [
            {
                "_id": f"{d}:{t}",
                "campaign_id": cid,
                "customer_id": c,
                "delivery_id": d,
                "type": t,
                "step": "main",
                "variant": None,
                "bucket": f"-|{t}",
                "at": now,
            }
            for d, c, t in rows
        ]
    )
    queue_name = f"{service_env.namespace}test.send"
    with Connection(service_env.amqp_url) as conn:
        # x-expires: the broker drops it after the test (broker_cleanup knows only the topology's queues)
        Queue(
            queue_name,
            exchange=service_env.topology.exchange("campaigns"),
            routing_key="send.requested",
            queue_arguments={"x-expires": 60000},
        )(conn.channel()).declare()
    assert api.post(f"/campaigns/{cid}/resend-failed").get_json()["requested"] == 1
    messages = [parse_envelope(m.body).event() for m in drain(service_env.amqp_url, queue_name)]
    assert [(m.customer_ids, m.retry_failed, m.template_id) for m in messages] == [
        ([people[0]], True, template)
    ]


def test_a_campaign_paused_mid_send_can_fix_its_template_despite_its_past_time(api, segment, template):
    cid = api.post("/campaigns", json=body(segment, template)).get_json()["id"]
    campaigns().update_one(
        {"_id": ObjectId(cid)},
        {
            "$set": {
                "state": "paused",
                "paused_from": "sending",
                "schedule": {
                    "kind": "at",
                    "at": datetime.datetime(2020, 1, 1, 8),
                    "local": "2020-01-01T09:00",
                    "time_zone": "Europe/Madrid",
                    "adjusted": None,
                },
            }
        },
    )
    fixed = make_template(name="fixed")
    edited = api.patch(f"/campaigns/{cid}", json={"template_id": fixed})
    assert edited.status_code == 200, edited.get_json()
    assert (
        edited.get_json()["template_id"] == fixed
        and edited.get_json()["schedule"]["at"] == "2020-01-01T09:00"
    )
    assert "schedule.at" in fields(
        api.patch(
            f"/campaigns/{cid}",
            json={"schedule": {"kind": "at", "at": "2020-02-01T09:00", "time_zone": "Europe/Madrid"}},
        )
    )


def test_a_template_the_mailer_does_not_have_is_refused_naming_it(api, segment):
    """Campaigns asks the mailer (the owner of templates) over HTTP; no copy, no store read."""
    missing = str(ObjectId())
    response = api.post("/campaigns", json=body(segment, missing))
    assert response.status_code == 422
    assert response.get_json()["details"]["fields"]["template_id"] == [f"unknown template {missing}"]
    assert campaigns().count_documents({}) == 0


def test_a_mailer_that_does_not_answer_is_a_503_and_nothing_is_stored(service_env, segment, template):
    from devstack.procs import free_port
    from services.campaigns.app import create_app
    from services.campaigns.settings import load
    from tests.campaigns.conftest import Api

    down = service_env.settings(load, mailer_url=f"http://127.0.0.1:{free_port()}", mailer_api_key="k")
    app = create_app(down)
    try:
        response = Api(app.test_client()).post("/campaigns", json=body(segment, template))
    finally:
        app.extensions["vinculo"].close()
    assert response.status_code == 503
    answer = response.get_json()
    assert answer["error"] == "unavailable" and "mailer" in answer["message"]
    assert answer["details"]["service"] == "mailer"
    assert campaigns().count_documents({}) == 0
