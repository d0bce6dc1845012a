"""A send.requested batch across a crash: a real worker killed (SIGKILL, ``VINCULO_FAULT=
after_write``) after it recorded a delivery's outcome (failed, or sent) and before it
published ``delivery.failed`` / ``delivery.sent``. The batch was not acked, so it comes
again, to the next worker: that one announces the delivery's outcome again, with the id
the first would have used (no intent needed on this path)."""

from __future__ import annotations

import json

import pytest

from services.mailer.models import Delivery
from tests.mailer.conftest import create_template, make_customer, publish_raw, send_requested
from tests.mailer.test_delivery import delivery_queue
from tests.support import drain, wait_consuming, wait_until


@pytest.mark.parametrize(
    ("rule", "status", "what", "mails"),
    [("550 5.1.1 no such user", "failed", "failed-0", 0), (None, "sent", "sent", 1)],
)
def test_a_worker_killed_before_announcing_an_outcome_has_it_announced_by_the_redelivered_batch(
    service_env, mailer_env, api, smtp_server, events, rule, status, what, mails
):
    queue = delivery_queue(service_env)
    template = create_template(api)
    person = make_customer(
        email="pia@example.com", consent={("email", "newsletter"): "granted"}, events=events
    )
    if rule:
        smtp_server.mailbox.rules["pia@example.com"] = rule
    drain(service_env.amqp_url, queue)
    worker = service_env.start("mailer", "worker", VINCULO_FAULT="after_write", **mailer_env)
    wait_consuming(service_env.amqp_url, service_env.topology.name("mailer.send.requested"))
    publish_raw(service_env.amqp_url, service_env.topology, send_requested(template["id"], [person.id]))
    assert worker.wait(timeout=60) == -9
    delivery = Delivery.objects.get(customer_id=person.id)
    assert delivery.status == status  # written ...
    assert drain(service_env.amqp_url, queue) == []  # ... and not announced

    service_env.start("mailer", "worker", **mailer_env)
    announced: list = []
    wait_until(
        lambda: announced.extend(drain(service_env.amqp_url, queue)) or announced,
        timeout=60,
        what="the redelivered batch to announce the outcome",
    )
    [event] = [json.loads(m.body) for m in announced]
    assert event["type"] == f"delivery.{status}" and event["message_id"] == f"delivery-{delivery.id}-{what}"
    assert event["payload"]["code"] == delivery.code and event["payload"]["reason"] == delivery.reason
    assert len(smtp_server.mailbox.to("pia@example.com")) == mails  # never handed over again
