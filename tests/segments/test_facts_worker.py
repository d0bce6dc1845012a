"""Across processes through the real RabbitMQ: an event published by one
service process is consumed by the segments worker process; a malformed one
lands in the dead-letter queue with its reason and the worker keeps going."""

from __future__ import annotations

from bson import ObjectId
from kombu import Connection, Producer

from shared.messaging.contracts import ConsentChanged
from shared.messaging.publisher import Publisher
from shared.models import Customer
from tests.support import drain, wait_consuming, wait_until


def test_consent_changes_reach_the_profile_and_poison_is_dead_lettered(service_env):
    customer = Customer(email="marta@example.com", first_name="Marta").save()
    worker = service_env.start("segments", "worker")
    publisher = Publisher(service_env.amqp_url, service_env.topology, "mailer")
    topology = service_env.topology

    # Once the worker consumes (its bindings exist), send poison first.
    wait_consuming(service_env.amqp_url, topology.name("segments.facts"))
    with Connection(service_env.amqp_url, transport_options={"confirm_publish": True}) as conn:
        Producer(conn.channel()).publish(
            b'{"type": "consent.changed", "garbage"',
            exchange=topology.exchange("mailer"),
            routing_key="consent.changed",
            content_type="application/json",
        )
    publisher.publish(
        ConsentChanged(
            customer_id=str(ObjectId()), channel="email", topic="newsletter", status="granted", source="api"
        )
    )
    publisher.publish(
        ConsentChanged(
            customer_id=str(customer.id),
            channel="email",
            topic="newsletter",
            status="granted",
            source="preference_center",
        )
    )

    def consent_mirrored():
        return Customer.objects(id=customer.id).first().consent.get("email", {}).get("newsletter")

    assert wait_until(consent_mirrored, what="the consent to reach the profile") == "granted"
    letters = []
    wait_until(
        lambda: (
            letters.extend(drain(service_env.amqp_url, topology.name("segments.facts.dlq")))
            or len(letters) >= 2
        ),
        what="two dead letters",
    )
    reasons = sorted(m.headers["x-vinculo-reason"] for m in letters)
    assert len(reasons) == 2, reasons
    assert reasons[0].startswith("malformed message: body is not JSON")
    assert reasons[1].startswith("poison: unknown customer")
    assert worker.poll() is None, "the worker is still running"

    # A later, older change does not overwrite the newer one.
    publisher.publish(
        ConsentChanged(
            customer_id=str(customer.id),
            channel="email",
            topic="newsletter",
            status="revoked",
            source="unsubscribe",
        )
    )
    wait_until(lambda: consent_mirrored() == "revoked", what="the revocation")
