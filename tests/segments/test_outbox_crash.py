"""The outbox across a crash: a real segments API process killed (SIGKILL, through the
``VINCULO_FAULT`` fault point the product reads) between a store write and its publish.
The relay then announces what was written, once; and never what was not written."""

from __future__ import annotations

import json

import pytest
import requests

from services.segments.bootstrap import build
from services.segments.settings import load
from shared.messaging.outbox import intents
from shared.models import Customer
from tests.support import MARKETER_KEY, bound_queue, drain

HEADERS = {"X-API-Key": MARKETER_KEY}


def killed_by(base: str, path: str, body: dict) -> None:
    """POST what the process dies answering (the fault point is in the write's path)."""
    with pytest.raises(requests.RequestException):
        requests.post(f"{base}{path}", json=body, headers=HEADERS, timeout=20)


def segment_events(service_env, queue) -> list[dict]:
    """What a consumer of segments' events takes, after dropping a message id it has seen."""
    seen, out = set(), []
    for message in drain(service_env.amqp_url, queue, limit=1000):
        body = json.loads(message.body)
        if body["message_id"] not in seen:
            seen.add(body["message_id"])
            out.append(body)
    return out


def test_a_process_killed_after_its_write_has_the_event_delivered_once_by_the_relay(service_env):
    queue = bound_queue(service_env, "segments", "#", "outbox-crash")
    base = service_env.start_api("segments", VINCULO_FAULT="after_write")

    killed_by(base, "/customers", {"email": "ana@example.es", "first_name": "Ana"})
    ana = Customer.objects(email="ana@example.es").first()
    assert ana is not None  # the write happened ...
    assert drain(service_env.amqp_url, queue) == []  # ... and its announcement did not

    killed_by(
        service_env.start_api("segments", VINCULO_FAULT="after_write"),  # a fresh process
        f"/customers/{ana.id}/purchases",
        {"order_id": "pedido-7", "amount": 42.5, "currency": "EUR"},
    )
    purchases = Customer._get_collection().find_one({"_id": ana.id})["facts"]["purchases"]
    assert [p["order_id"] for p in purchases] == ["pedido-7"]
    assert drain(service_env.amqp_url, queue) == []
    assert intents().count_documents({}) == 2

    parts = build(service_env.settings(load))
    assert parts.outbox.relay(older_than=0) == 2
    assert parts.outbox.relay(older_than=0) == 0  # nothing twice
    parts.close()
    raw = drain(service_env.amqp_url, queue, limit=1000)
    assert len(raw) == 2
    taken = [json.loads(m.body) for m in raw]
    assert sorted((e["type"], e["payload"]["customer_id"]) for e in taken) == [
        ("customer.created", str(ana.id)),
        ("purchase.recorded", str(ana.id)),
    ]
    [purchase] = [e for e in taken if e["type"] == "purchase.recorded"]
    assert purchase["message_id"] == "purchase-pedido-7" and purchase["payload"]["amount"] == 42.5
    assert intents().count_documents({}) == 0


def test_an_intent_whose_write_never_happened_is_not_announced(service_env):
    queue = bound_queue(service_env, "segments", "#", "outbox-no-write")
    base = service_env.start_api("segments", VINCULO_FAULT="after_intent")

    killed_by(base, "/customers", {"email": "luis@example.es", "first_name": "Luis"})
    assert Customer.objects(email="luis@example.es").count() == 0  # killed before the write
    [intent] = intents().find()
    assert json.loads(intent["envelopes"][0])["type"] == "customer.created"

    parts = build(service_env.settings(load))
    assert parts.outbox.relay(older_than=0) == 0
    parts.close()
    assert drain(service_env.amqp_url, queue) == []
    assert intents().count_documents({}) == 0  # resolved: nothing to announce, dropped


def test_a_fresh_intent_waits_for_its_write(service_env, parts):
    """Within the grace period an intent is the writer's: the relay leaves it alone."""
    from shared.messaging.contracts import CustomerCreated

    outbox = parts.outbox
    intent = outbox.intend(CustomerCreated(customer_id="0" * 24))
    assert outbox.relay() == 0
    assert intents().count_documents({"_id": intent.id}) == 1
    outbox.discard(intent)
    assert intents().count_documents({}) == 0


def test_an_intent_kept_by_a_long_write_is_due_a_whole_grace_period_later(service_env, parts):
    """A sweep renewing its claims keeps its intent (``Outbox.keep``): a relay running while it
    is still at work leaves it alone instead of announcing half of its work and dropping it."""
    import datetime

    from shared.messaging.contracts import CustomerCreated
    from shared.store import utcnow

    outbox = parts.outbox
    intent = outbox.intend(CustomerCreated(customer_id="0" * 24))
    long_ago = utcnow() - datetime.timedelta(seconds=300)
    intents().update_one({"_id": intent.id}, {"$set": {"at": long_ago}})  # a write running 5 minutes
    outbox.keep(intent)
    assert outbox.relay() == 0
    assert intents().count_documents({"_id": intent.id}) == 1
    outbox.discard(intent)


def test_an_erasure_killed_before_its_announcements_has_both_delivered_by_the_relay(api, service_env):
    """customer.erased carries the hashes the mailer suppresses: a repeated DELETE finds the
    customer erased and announces nothing, so only the intent keeps it."""
    ana = api.post("/customers", json={"email": "borrar@example.es", "first_name": "Ana"}).json
    queue = bound_queue(service_env, "segments", "#", "outbox-erasure")
    base = service_env.start_api("segments", VINCULO_FAULT="after_erase")

    with pytest.raises(requests.RequestException):
        requests.delete(f"{base}/customers/{ana['id']}", headers=HEADERS, timeout=20)
    assert Customer._get_collection().find_one()["erased"] is True  # erased ...
    assert api.delete(f"/customers/{ana['id']}").status_code == 204  # (asked again: nothing to do)
    assert drain(service_env.amqp_url, queue) == []  # ... and not announced

    parts = build(service_env.settings(load))
    assert parts.outbox.relay(older_than=0) == 2
    assert parts.outbox.relay(older_than=0) == 0
    parts.close()
    taken = sorted((json.loads(m.body) for m in drain(service_env.amqp_url, queue)), key=lambda e: e["type"])
    assert [(e["type"], e["payload"]["customer_id"]) for e in taken] == [
        ("customer.erased", ana["id"]),
        ("customer.updated", ana["id"]),
    ]
    assert taken[0]["message_id"] == f"erased-{ana['id']}" and taken[0]["payload"]["email_hash"]
    assert taken[1]["payload"]["changed"] == ["erased"]
    assert intents().count_documents({}) == 0
