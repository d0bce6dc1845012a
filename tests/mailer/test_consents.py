"""The consents module and API: ledger, forward-only state, interaction,
consent.changed on the real broker, idempotency."""

from __future__ import annotations

import datetime
import json

from kombu import Connection

from services.mailer import consents
from shared.models import ConsentEntry, ConsentState, Interaction
from tests.mailer.conftest import make_customer
from tests.support import Timeline, drain


def declare_facts_queue(service_env):
    with Connection(service_env.amqp_url) as conn:
        service_env.topology.declare(conn.channel(), ["segments.facts"])
    return service_env.topology.name("segments.facts")


def test_record_change_is_idempotent_forward_only_and_announced(service_env, events):
    queue = declare_facts_queue(service_env)
    timeline = Timeline(service_env)
    customer = make_customer(email="marta@example.com")
    t0 = datetime.datetime(2026, 1, 1, 10, 0)
    first = consents.record_change(
        customer.id,
        "email",
        "newsletter",
        "granted",
        "form",
        events=events,
        idempotency_key="form-1",
        at=t0,
        ip="203.0.113.9",
        wording_version="v3",
    )
    again = consents.record_change(
        customer.id, "email", "newsletter", "granted", "form", events=events, idempotency_key="form-1", at=t0
    )
    assert again.id == first.id and ConsentEntry.objects.count() == 1
    # an older change arriving later is kept in the ledger but does not win
    consents.record_change(
        customer.id,
        "email",
        "newsletter",
        "revoked",
        "import",
        events=events,
        idempotency_key="old",
        at=t0 - datetime.timedelta(days=1),
    )
    state = ConsentState.objects.get(customer_id=customer.id, channel="email", topic="newsletter")
    assert state.status == "granted" and state.entry_id == first.id
    consents.record_change(
        customer.id,
        "email",
        "newsletter",
        "revoked",
        "unsubscribe",
        events=events,
        idempotency_key="new",
        at=t0 + datetime.timedelta(days=1),
    )
    assert ConsentState.objects.get(customer_id=customer.id).status == "revoked"
    assert ConsentEntry.objects.count() == 3
    timeline.deliver()  # segments writes the timeline from consent.changed
    assert Interaction.objects(kind="consent_changed", customer_id=customer.id).count() == 3
    messages = drain(service_env.amqp_url, queue)
    bodies = [json.loads(m.body) for m in messages]
    # a replay re-publishes with the same message id, which consumers drop
    assert len({b["message_id"] for b in bodies}) == 3
    assert {b["payload"]["status"] for b in bodies} == {"granted", "revoked"}
    assert all(b["type"] == "consent.changed" for b in bodies)


def test_consents_api(api, events):
    customer = make_customer(email="luis@example.com")
    url = f"/customers/{customer.id}/consents"
    created = api.post(
        url,
        json={
            "channel": "email",
            "topic": "promotions",
            "status": "granted",
            "source": "import",
            "wording_version": "2026-01",
            "ip": "198.51.100.7",
            "idempotency_key": "import-7",
        },
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["at"].endswith("+00:00")
    assert (
        api.post(
            url,
            json={
                "channel": "email",
                "topic": "promotions",
                "status": "granted",
                "source": "import",
                "idempotency_key": "import-7",
            },
        ).get_json()["id"]
        == created.get_json()["id"]
    )
    api.post(url, json={"channel": "sms", "topic": "promotions", "status": "denied"})
    current = api.get(url).get_json()
    assert {(i["channel"], i["topic"], i["status"]) for i in current["items"]} == {
        ("email", "promotions", "granted"),
        ("sms", "promotions", "denied"),
    }
    history = api.get(f"{url}/history?limit=1").get_json()
    assert history["total"] == 2 and len(history["items"]) == 1 and history["next"]
    rest = api.get(f"{url}/history?limit=1&after={history['next']}").get_json()
    assert rest["items"][0]["wording_version"] == "2026-01"
    bad = api.post(url, json={"channel": "fax", "topic": "promotions", "status": "granted"})
    assert bad.status_code == 422 and "channel" in bad.get_json()["details"]["fields"]
    assert api.get("/customers/000000000000000000000000/consents").status_code == 404


def test_a_consent_from_the_future_never_holds_back_an_opt_out(api, events):
    """A grant dated 2099 once became the state for good: the customer's revocation (now) was
    'older' and never won, and campaigns kept mailing them. The API refuses a date after now
    (422 naming ``at``, nothing written); a change dated later by an import's time zone is
    recorded as now; a state stored from the future before this gives way to any change."""
    customer = make_customer(email="ñandú@ejemplo.es")
    url = f"/customers/{customer.id}/consents"
    grant = {"channel": "email", "topic": "promotions", "status": "granted", "source": "support"}
    future = api.post(url, json={**grant, "at": "2099-01-01T00:00:00Z"})
    assert future.status_code == 422 and "at" in future.get_json()["details"]["fields"]
    assert ConsentEntry.objects(customer_id=customer.id).count() == 0  # nothing half-written
    skewed = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=2)  # a clock ahead
    assert api.post(url, json={**grant, "at": skewed.isoformat()}).status_code == 201
    state = ConsentState.objects.get(customer_id=customer.id, channel="email", topic="promotions")
    assert state.at <= datetime.datetime.now(datetime.UTC).replace(tzinfo=None)  # recorded as now

    # What an earlier version let in: a state dated 2099. The customer's opt-out replaces it.
    ConsentState._get_collection().update_one(
        {"_id": state.id}, {"$set": {"at": datetime.datetime(2099, 1, 1)}}
    )
    consents.record_change(customer.id, "email", "promotions", "revoked", "unsubscribe", events=events)
    current = {(i["channel"], i["topic"]): i["status"] for i in api.get(url).get_json()["items"]}
    assert current[("email", "promotions")] == "revoked"
