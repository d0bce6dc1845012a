"""A bounce report across a crash: a real mailer API process killed (SIGKILL, through the
``VINCULO_FAULT`` fault points the outbox reads) after the delivery was marked bounced and
the address suppressed, and before ``delivery.bounced`` and ``contact.suppressed`` were
published. A repeated report finds the delivery bounced already and would not announce it
again; the intent written before the writes lets the relay announce both, once, and
nothing for a report whose writes never happened."""

from __future__ import annotations

import json

import pytest
import requests

from services.mailer.models import Delivery
from shared.messaging.outbox import intents
from shared.models import SuppressedContact, contact_hash
from tests.mailer.conftest import relayed
from tests.mailer.test_public import DSN, sent_message
from tests.support import ADMIN_KEY, bound_queue, drain

ADDRESS = "hard@example.com"


def queues(service_env) -> dict:
    return {
        kind: bound_queue(service_env, "mailer", kind, f"bounce-crash-{kind}")
        for kind in ("delivery.bounced", "contact.suppressed")
    }


def killed_bouncing(service_env, mailer_env, delivery, fault: str) -> None:
    base = service_env.start_api("mailer", VINCULO_FAULT=fault, **mailer_env)
    report = DSN.format(delivery=delivery.id, address=ADDRESS, status="5.1.1", code="550")
    with pytest.raises(requests.RequestException):
        requests.post(
            f"{base}/bounces",
            data=report.encode(),
            headers={"X-API-Key": ADMIN_KEY, "Content-Type": "message/rfc822"},
            timeout=20,
        )


def suppressed() -> int:
    return SuppressedContact.objects(hash=contact_hash("email", ADDRESS)).count()


def test_a_bounce_killed_after_its_writes_is_announced_once_by_the_relay(
    service_env, mailer_env, settings, api, sender_for, smtp_server, events
):
    queue = queues(service_env)
    customer, delivery, _ = sent_message(api, sender_for, smtp_server, events, address=ADDRESS)
    killed_bouncing(service_env, mailer_env, delivery, "after_write")
    assert Delivery.objects.get(id=delivery.id).status == "bounced" and suppressed() == 1  # written ...
    assert [drain(service_env.amqp_url, q) for q in queue.values()] == [[], []]  # ... not announced
    assert intents().count_documents({}) == 1

    assert relayed(settings) == [2, 0]
    [bounced] = drain(service_env.amqp_url, queue["delivery.bounced"])
    [suppression] = drain(service_env.amqp_url, queue["contact.suppressed"])
    body = json.loads(bounced.body)
    assert body["message_id"] == f"delivery-{delivery.id}-bounced"
    assert body["payload"]["campaign_id"] == "camp-1" and body["payload"]["reason"].startswith("hard: 5.1.1")
    body = json.loads(suppression.body)
    assert body["message_id"] == f"suppressed-bounced-{customer.id}-{delivery.id}"
    assert body["payload"]["customer_id"] == str(customer.id) and body["payload"]["flag"] == "bounced"
    assert intents().count_documents({}) == 0


def test_a_bounce_killed_before_its_writes_announces_nothing(
    service_env, mailer_env, settings, api, sender_for, smtp_server, events
):
    queue = queues(service_env)
    _, delivery, _ = sent_message(api, sender_for, smtp_server, events, address=ADDRESS)
    killed_bouncing(service_env, mailer_env, delivery, "after_intent")
    assert Delivery.objects.get(id=delivery.id).status == "sent" and suppressed() == 0
    assert intents().count_documents({}) == 1

    assert relayed(settings) == [0, 0]
    assert [drain(service_env.amqp_url, q) for q in queue.values()] == [[], []]
    assert intents().count_documents({}) == 0
