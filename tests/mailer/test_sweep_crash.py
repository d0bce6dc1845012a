"""The sweep across a crash: a real process sweeping due deferred deliveries, killed
(SIGKILL, through the ``VINCULO_FAULT`` fault points the outbox reads) after it recorded
their outcomes and before it announced them. No message comes again for the sweep's work
(the send.requested batch was acked when it deferred them), so without its intent
``delivery.sent`` and ``delivery.failed`` would be lost; the relay announces them once,
rebuilt from the deliveries that reached an outcome under the killed sweep's claim, and
nothing when the sweep was killed before its writes."""

from __future__ import annotations

import json
import subprocess
import sys

from services.mailer.models import Delivery
from shared.messaging.outbox import intents
from shared.store import utcnow
from tests.mailer.conftest import create_template, make_customer, relayed, send_requested
from tests.mailer.test_delivery import delivery_queue
from tests.support import ROOT, drain

SWEEP = """
from services.mailer.bootstrap import build
parts = build()
parts.prepare_store()
parts.sender.sweep()
"""


def deferred_pair(api, sender_for, smtp_server, events) -> dict:
    """Two deliveries the provider deferred (451), now due; the one to gone@ will be refused."""
    template = create_template(api)
    grant = {("email", "newsletter"): "granted"}
    people = {
        name: make_customer(email=f"{name}@example.com", consent=grant, events=events)
        for name in ("fine", "gone")
    }
    smtp_server.mailbox.rules.update({f"{name}@example.com": "451 4.3.0 try later" for name in people})
    sender_for().on_send_requested(send_requested(template["id"], [c.id for c in people.values()]))
    smtp_server.mailbox.rules.clear()
    smtp_server.mailbox.rules["gone@example.com"] = "550 5.1.1 no such user"
    assert Delivery.objects(status="deferred", attempts=1).count() == 2
    Delivery.objects.update(set__due_at=utcnow())
    return {name: Delivery.objects.get(customer_id=c.id) for name, c in people.items()}


def killed_sweeping(service_env, mailer_env, fault: str) -> None:
    killed = subprocess.run(
        [sys.executable, "-c", SWEEP],
        cwd=ROOT,
        env=service_env.env(VINCULO_FAULT=fault, **mailer_env),
        timeout=60,
    )
    assert killed.returncode == -9


def test_a_sweep_killed_after_its_writes_has_its_outcomes_announced_once_by_the_relay(
    service_env, mailer_env, settings, api, sender_for, smtp_server, events
):
    queue = delivery_queue(service_env)
    deliveries = deferred_pair(api, sender_for, smtp_server, events)
    drain(service_env.amqp_url, queue)
    killed_sweeping(service_env, mailer_env, "after_write")
    status = {name: Delivery.objects.get(id=d.id).status for name, d in deliveries.items()}
    assert status == {"fine": "sent", "gone": "failed"}  # written ...
    assert len(smtp_server.mailbox.to("fine@example.com")) == 1
    assert drain(service_env.amqp_url, queue) == []  # ... and not announced
    assert intents().count_documents({}) == 1

    assert relayed(settings) == [2, 0]
    bodies = {
        json.loads(m.body)["message_id"]: json.loads(m.body) for m in drain(service_env.amqp_url, queue)
    }
    fine, gone = deliveries["fine"].id, deliveries["gone"].id
    assert sorted(bodies) == sorted([f"delivery-{fine}-sent", f"delivery-{gone}-failed-1"])
    assert bodies[f"delivery-{fine}-sent"]["type"] == "delivery.sent"
    failed = bodies[f"delivery-{gone}-failed-1"]
    assert failed["type"] == "delivery.failed" and "550 5.1.1" in failed["payload"]["reason"]
    assert failed["payload"]["customer_id"] == str(deliveries["gone"].customer_id)
    assert intents().count_documents({}) == 0


def test_a_sweep_killed_before_its_writes_announces_nothing(
    service_env, mailer_env, settings, api, sender_for, smtp_server, events
):
    queue = delivery_queue(service_env)
    deliveries = deferred_pair(api, sender_for, smtp_server, events)
    drain(service_env.amqp_url, queue)
    killed_sweeping(service_env, mailer_env, "after_intent")
    assert {Delivery.objects.get(id=d.id).status for d in deliveries.values()} == {"sending"}  # claimed only
    assert smtp_server.mailbox.count == 0
    assert intents().count_documents({}) == 1

    assert relayed(settings) == [0, 0]
    assert drain(service_env.amqp_url, queue) == []
    assert intents().count_documents({}) == 0
