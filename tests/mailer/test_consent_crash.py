"""consent.changed across a crash: a real mailer API process killed (SIGKILL, through the
``VINCULO_FAULT`` fault point the outbox reads) between the ledger write and the publish.
Segments mirrors consent onto the profile for segment rules from this event, so a lost
one leaves a customer in (or out of) a segment the ledger says otherwise. The relay
announces what was written, once, and never what was not."""

from __future__ import annotations

import datetime
import json

import pytest
import requests
from bson import ObjectId

from services.mailer import consents
from services.mailer.settings import load
from services.mailer.store import consents as ledger
from shared.messaging.contracts import ConsentChanged
from shared.messaging.outbox import intents
from shared.models import ConsentEntry, ConsentState
from tests.mailer.conftest import make_customer, relayed
from tests.support import MARKETER_KEY, bound_queue, drain

GRANT = {"channel": "email", "topic": "newsletter", "status": "granted", "source": "form"}


def killed_granting(base: str, customer_id) -> None:
    with pytest.raises(requests.RequestException):
        requests.post(
            f"{base}/customers/{customer_id}/consents",
            json=GRANT,
            headers={"X-API-Key": MARKETER_KEY},
            timeout=20,
        )


def test_a_consent_recorded_by_a_killed_process_is_announced_once_by_the_relay(service_env, mailer_env):
    queue = bound_queue(service_env, "mailer", "consent.changed", "consent-crash")
    customer = make_customer(email="ñandú@ejemplo.es")
    killed_granting(service_env.start_api("mailer", VINCULO_FAULT="after_write", **mailer_env), customer.id)

    [entry] = ConsentEntry.objects(customer_id=customer.id)  # written ...
    assert ConsentState.objects.get(customer_id=customer.id).status == "granted"
    assert drain(service_env.amqp_url, queue) == []  # ... and not announced

    assert relayed(load(service_env.env(**mailer_env))) == [1, 0]
    [message] = drain(service_env.amqp_url, queue)
    body = json.loads(message.body)
    assert body["message_id"] == f"consent-{entry.id}"
    assert body["payload"]["customer_id"] == str(customer.id) and body["payload"]["status"] == "granted"
    assert intents().count_documents({}) == 0


def test_a_consent_killed_before_its_write_is_not_announced(service_env, mailer_env):
    queue = bound_queue(service_env, "mailer", "consent.changed", "consent-no-write")
    customer = make_customer(email="luis@ejemplo.es")
    killed_granting(service_env.start_api("mailer", VINCULO_FAULT="after_intent", **mailer_env), customer.id)

    assert ConsentEntry.objects(customer_id=customer.id).count() == 0
    assert intents().count_documents({}) == 1
    assert relayed(load(service_env.env(**mailer_env))) == [0, 0]
    assert drain(service_env.amqp_url, queue) == []
    assert intents().count_documents({}) == 0


def test_the_relay_completes_a_state_the_crash_left_behind(service_env, mailer_env, events):
    """Killed after the ledger entry and before the state moved: the relay moves it, then announces."""
    queue = bound_queue(service_env, "mailer", "consent.changed", "consent-half")
    customer = make_customer(email="marta@ejemplo.es")
    at = datetime.datetime(2026, 3, 1, 9, 30)
    entry = ConsentEntry(
        id=ObjectId(),
        customer_id=customer.id,
        channel="email",
        topic="newsletter",
        status="revoked",
        source="form",
        at=at,
    )
    entry.idempotency_key = "half-1"
    intent = events.intend(
        ConsentChanged(
            customer_id=str(customer.id), channel="email", topic="newsletter", status="revoked", source="form"
        ),
        f"consent-{entry.id}",
        occurred_at=at,
        entry_id=entry.id,
    )
    ledger.add_entry(entry)  # what the killed process wrote; the state write never came
    assert intent and consents.current(customer.id) == []

    assert relayed(load(service_env.env(**mailer_env))) == [1, 0]
    assert [s.status for s in consents.current(customer.id)] == ["revoked"]
    [message] = drain(service_env.amqp_url, queue)
    assert json.loads(message.body)["occurred_at"].startswith("2026-03-01T09:30")
