"""A bounce report across a crash: a real mailer API process killed (SIGKILL, through the
``VINCULO_FAULT`` fault points the outbox reads) after the delivery was marked bounced and
the address suppressed, and before ``delivery.bounced`` and ``contact.suppressed`` were
published. A repeated report finds the delivery bounced already and would not announce it
again; the intent written before the writes lets the relay announce both, once, and
nothing for a report whose writes never happened. A spam complaint killed there has not
revoked the consent yet: the relay completes the revocation (one ledger entry, however
often the report comes again)."""

from __future__ import annotations

import json

import pytest
import requests

from services.mailer.models import Delivery
from shared.messaging.outbox import intents
from shared.models import ConsentEntry, ConsentState, SuppressedContact, contact_hash
from tests.mailer.conftest import relayed
from tests.mailer.test_public import ARF, DSN, sent_message
from tests.support import ADMIN_KEY, bound_queue, drain

ADDRESS = "hard@example.com"


def queues(service_env) -> dict:
    return {
        kind: bound_queue(service_env, "mailer", kind, f"bounce-crash-{kind}")
        for kind in ("delivery.bounced", "contact.suppressed")
    }


def killed_bouncing(service_env, mailer_env, delivery, fault: str, report: str | None = None) -> None:
    base = service_env.start_api("mailer", VINCULO_FAULT=fault, **mailer_env)
    report = report or DSN.format(delivery=delivery.id, address=ADDRESS, status="5.1.1", code="550")
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


COMPLAINER = "ñandú@ejemplo.es"


def complaint_revocations(customer) -> list:
    return list(ConsentEntry.objects(customer_id=customer.id, source="complaint"))


def newsletter_consent(customer) -> str:
    return ConsentState.objects.get(customer_id=customer.id, channel="email", topic="newsletter").status


def test_a_complaint_killed_after_its_writes_has_its_consent_revoked_by_the_relay_once(
    service_env, mailer_env, settings, api, admin_api, sender_for, smtp_server, events
):
    queue = {
        **queues(service_env),
        "consent.changed": bound_queue(service_env, "mailer", "consent.changed", "bounce-crash-consent"),
    }
    customer, delivery, _ = sent_message(api, sender_for, smtp_server, events, address=COMPLAINER)
    drain(service_env.amqp_url, queue["consent.changed"])  # the grant make_customer recorded
    report = ARF.format(delivery=delivery.id, address=COMPLAINER)
    killed_bouncing(service_env, mailer_env, delivery, "after_write", report)
    assert Delivery.objects.get(id=delivery.id).status == "bounced"
    assert SuppressedContact.objects(hash=contact_hash("email", COMPLAINER), reason="complained").count() == 1
    assert complaint_revocations(customer) == [] and newsletter_consent(customer) == "granted"

    assert relayed(settings) == [3, 0]
    [revocation] = complaint_revocations(customer)
    assert (revocation.status, revocation.channel, revocation.topic) == ("revoked", "email", "newsletter")
    assert newsletter_consent(customer) == "revoked"
    [changed] = drain(service_env.amqp_url, queue["consent.changed"])
    body = json.loads(changed.body)
    assert body["message_id"] == f"consent-{revocation.id}"
    assert body["payload"]["status"] == "revoked" and body["payload"]["source"] == "complaint"
    assert len(drain(service_env.amqp_url, queue["delivery.bounced"])) == 1
    assert intents().count_documents({}) == 0

    # the ISP sends the report again: the revocation is the relay's, not a second one
    again = admin_api.post("/bounces", data=report.encode(), content_type="message/rfc822")
    assert again.status_code == 200 and again.get_json()["kind"] == "complaint"
    assert [entry.id for entry in complaint_revocations(customer)] == [revocation.id]
    assert intents().count_documents({}) == 0


def test_a_complaint_not_killed_revokes_once_and_leaves_the_relay_nothing(
    service_env, settings, api, admin_api, sender_for, smtp_server, events
):
    customer, delivery, _ = sent_message(api, sender_for, smtp_server, events, address=COMPLAINER)
    report = ARF.format(delivery=delivery.id, address=COMPLAINER)
    for _ in range(2):
        answer = admin_api.post("/bounces", data=report.encode(), content_type="message/rfc822")
        assert answer.status_code == 200 and answer.get_json()["suppressed"]
    assert len(complaint_revocations(customer)) == 1 and newsletter_consent(customer) == "revoked"
    assert intents().count_documents({}) == 0
    assert relayed(settings) == [0, 0]
    assert len(complaint_revocations(customer)) == 1
