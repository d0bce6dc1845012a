"""A first open or click across a crash: a real mailer API process killed (SIGKILL, through
the ``VINCULO_FAULT`` fault points the outbox reads) after it recorded the open or click on
the delivery and before it published ``delivery.opened`` / ``delivery.clicked``. Every later
open or click finds it recorded and announces nothing; the intent written before the update
lets the relay announce it, once, and nothing when the process died before the update."""

from __future__ import annotations

import json
import re

import pytest
import requests

from services.mailer.models import Delivery
from shared.messaging.outbox import intents
from tests.mailer.conftest import relayed
from tests.mailer.test_public import sent_message
from tests.support import bound_queue, drain

LINK = {
    "opened": r'src="https://mailer.example(/t/o/[^"]+)"',
    "clicked": r'href="https://mailer.example(/t/c/[^"]+)"',
}


def killed_following(service_env, mailer_env, msg, what: str, fault: str) -> None:
    path = re.search(LINK[what], msg.get_body(("html",)).get_content()).group(1)
    base = service_env.start_api("mailer", VINCULO_FAULT=fault, **mailer_env)
    with pytest.raises(requests.RequestException):
        requests.get(f"{base}{path}", allow_redirects=False, timeout=20)


@pytest.mark.parametrize("what", ["opened", "clicked"])
def test_an_engagement_killed_after_its_update_is_announced_once_by_the_relay(
    service_env, mailer_env, settings, api, sender_for, smtp_server, events, what
):
    queue = bound_queue(service_env, "mailer", f"delivery.{what}", f"engagement-crash-{what}")
    _, delivery, msg = sent_message(api, sender_for, smtp_server, events)
    killed_following(service_env, mailer_env, msg, what, "after_write")
    at = getattr(Delivery.objects.get(id=delivery.id), f"{what}_at")
    assert at is not None  # recorded ...
    assert drain(service_env.amqp_url, queue) == []  # ... and not announced
    assert intents().count_documents({}) == 1

    assert relayed(settings) == [1, 0]
    [message] = drain(service_env.amqp_url, queue)
    body = json.loads(message.body)
    assert body["type"] == f"delivery.{what}" and body["message_id"] == f"delivery-{delivery.id}-{what}"
    assert body["payload"]["campaign_id"] == delivery.campaign_id
    assert body["payload"]["url"] == ("https://tienda.example/ofertas?x=1&y=2" if what == "clicked" else None)
    assert intents().count_documents({}) == 0


def test_an_open_killed_before_its_update_announces_nothing(
    service_env, mailer_env, settings, api, sender_for, smtp_server, events
):
    queue = bound_queue(service_env, "mailer", "delivery.opened", "engagement-crash-none")
    _, delivery, msg = sent_message(api, sender_for, smtp_server, events)
    killed_following(service_env, mailer_env, msg, "opened", "after_intent")
    assert Delivery.objects.get(id=delivery.id).opened_at is None
    assert intents().count_documents({}) == 1

    assert relayed(settings) == [0, 0]
    assert drain(service_env.amqp_url, queue) == []
    assert intents().count_documents({}) == 0
