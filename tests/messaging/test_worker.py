"""The consumer base against the real RabbitMQ: ack after work, bounded
retries, dead letters with the reason, duplicates dropped, worker stays up."""

from __future__ import annotations

import json

from kombu import Connection, Producer

from shared.messaging.consumer import Poison, ProcessedMessage, Worker
from shared.messaging.contracts import ConsentChanged, envelope_for
from shared.messaging.outbox import Outbox
from shared.messaging.publisher import OutboxMessage, Publisher, connect
from shared.messaging.topology import Topology
from tests.support import drain, queue_depth

QUEUE = "segments.facts"


def consent(customer_id="c1", status="granted"):
    return ConsentChanged(
        customer_id=customer_id, channel="email", topic="newsletter", status=status, source="api"
    )


def make_worker(amqp_url, namespace, handler, **kwargs):
    kwargs.setdefault("base_delay", 0.05)
    kwargs.setdefault("max_delay", 0.2)
    return Worker(connect(amqp_url), Topology(namespace), {QUEUE: handler}, name="test", **kwargs)


def run_until(worker, condition, limit=50):
    """Consume synchronously (no threads) until ``condition()`` holds."""
    for _ in worker.consume(limit=limit, timeout=10):
        if condition():
            return
    raise AssertionError("condition not reached while consuming")


def publish_raw(amqp_url, namespace, body: bytes, routing_key="consent.changed"):
    topology = Topology(namespace)
    with Connection(amqp_url, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        topology.declare(channel, [QUEUE])
        Producer(channel).publish(
            body,
            exchange=topology.exchange("mailer"),
            routing_key=routing_key,
            content_type="application/json",
        )


def dead_letters(amqp_url, namespace):
    return drain(amqp_url, f"{namespace}{QUEUE}.dlq")


def test_a_published_event_is_handled_and_acked(amqp_url, namespace, mongo_uri):
    seen = []
    worker = make_worker(amqp_url, namespace, lambda env: seen.append(env.event()))
    with worker.connection:
        worker.topology.declare(worker.connection.channel(), [QUEUE])
        Publisher(amqp_url, Topology(namespace), "mailer").publish(consent(), correlation_id="corr-9")
        run_until(worker, lambda: seen)
    assert seen == [consent()]
    assert queue_depth(amqp_url, f"{namespace}{QUEUE}") == 0
    assert ProcessedMessage.objects(consumer=f"{namespace}{QUEUE}").count() == 1


def test_malformed_messages_are_dead_lettered_with_the_reason_and_consuming_goes_on(
    amqp_url, namespace, mongo_uri
):
    seen = []
    worker = make_worker(amqp_url, namespace, lambda env: seen.append(env.event()))
    good = envelope_for(consent(), "mailer")
    wrong_version = json.loads(good.to_json()) | {"schema_version": 99, "message_id": "v99"}
    with worker.connection:
        publish_raw(amqp_url, namespace, b"{this is not json")
        publish_raw(amqp_url, namespace, json.dumps(wrong_version).encode())
        publish_raw(amqp_url, namespace, good.to_json().encode())
        run_until(worker, lambda: seen)
    letters = dead_letters(amqp_url, namespace)
    reasons = sorted(m.headers["x-vinculo-reason"] for m in letters)
    assert reasons[0].startswith("malformed message: body is not JSON")
    assert (
        reasons[1] == "malformed message: schema_version 99 of consent.changed is not supported (expected 1)"
    )
    assert b"{this is not json" in {m.body for m in letters}, "the body is kept as it came"
    assert {m.headers["x-vinculo-queue"] for m in letters} == {f"{namespace}{QUEUE}"}
    assert seen == [consent()]


def test_transient_failures_are_retried_with_delay_then_succeed(amqp_url, namespace, mongo_uri):
    calls = []

    def flaky(env):
        calls.append(env.message_id)
        if len(calls) < 3:
            raise ConnectionError("store hiccup")

    worker = make_worker(amqp_url, namespace, flaky)
    with worker.connection:
        worker.topology.declare(worker.connection.channel(), [QUEUE])
        Publisher(amqp_url, Topology(namespace), "mailer").publish(consent())
        run_until(worker, lambda: worker.stats.handled == 1)
    assert len(calls) == 3 and len(set(calls)) == 1
    assert worker.stats.retried == 2
    assert dead_letters(amqp_url, namespace) == []


def test_exhausted_and_poison_messages_go_to_the_dead_letter_queue(amqp_url, namespace, mongo_uri):
    def handler(env):
        if env.event().customer_id == "unknown":
            raise Poison("unknown customer unknown")
        raise TimeoutError("provider down")

    worker = make_worker(amqp_url, namespace, handler, max_attempts=3)
    publisher = Publisher(amqp_url, Topology(namespace), "mailer")
    with worker.connection:
        worker.topology.declare(worker.connection.channel(), [QUEUE])
        publisher.publish(consent("unknown"))
        publisher.publish(consent("c2"))
        run_until(worker, lambda: worker.stats.dead_lettered == 2)
    reasons = sorted(m.headers["x-vinculo-reason"] for m in dead_letters(amqp_url, namespace))
    assert reasons == [
        "failed 3 times; last error: TimeoutError: provider down",
        "poison: unknown customer unknown",
    ]


def test_a_redelivered_message_id_is_handled_once(amqp_url, namespace, mongo_uri):
    seen = []
    worker = make_worker(amqp_url, namespace, lambda env: seen.append(env.message_id))
    envelope = envelope_for(consent(), "mailer", message_id="same-id")
    publisher = Publisher(amqp_url, Topology(namespace), "mailer")
    with worker.connection:
        worker.topology.declare(worker.connection.channel(), [QUEUE])
        publisher.publish_envelope(envelope)
        publisher.publish_envelope(envelope)
        run_until(worker, lambda: worker.stats.handled + worker.stats.duplicates == 2)
    assert seen == ["same-id"]


def test_the_outbox_keeps_events_while_the_broker_is_down_and_relays_them(amqp_url, namespace, mongo_uri):
    down = Outbox(Publisher("amqp://guest:guest@127.0.0.1:1//", Topology(namespace), "mailer"))
    envelope = down.publish(consent())
    assert OutboxMessage.objects(message_id=envelope.message_id).count() == 1

    seen = []
    worker = make_worker(amqp_url, namespace, lambda env: seen.append(env.message_id))
    with worker.connection:
        worker.topology.declare(worker.connection.channel(), [QUEUE])
        up = Outbox(Publisher(amqp_url, Topology(namespace), "mailer"))
        assert up.relay() == 1
        run_until(worker, lambda: seen)
    assert seen == [envelope.message_id]
    assert OutboxMessage.objects.count() == 0
