"""Scenario 4: poison messages reach every worker that exists, as real
processes on the real RabbitMQ and store: invalid JSON, a wrong schema
version and a well-formed message that can never succeed (an unknown
customer...) are each dead-lettered with the reason, and the worker keeps
consuming.

Each worker is one entry in TARGETS; a worker part without an entry fails
``test_every_worker_has_a_poison_target``, so the suite grows with the code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from bson import ObjectId
from kombu import Connection, Producer

from devstack import inventory
from shared.messaging.contracts import CampaignDue, ConsentChanged, Event, SendRequested, envelope_for
from tests.support import drain, wait_consuming, wait_until


@dataclass(frozen=True)
class PoisonTarget:
    service: str
    queue: str  # a queue the worker consumes (plain name)
    never_succeeds: Callable[[], Event]  # well-formed, but can never be handled
    reason: str  # how its dead letter's x-vinculo-reason starts

    def __str__(self):
        return f"{self.service}:{self.queue}"


TARGETS = [
    PoisonTarget(
        "segments",
        "segments.facts",
        lambda: ConsentChanged(
            customer_id=str(ObjectId()), channel="email", topic="newsletter", status="granted", source="api"
        ),
        "poison: unknown customer",
    ),
    PoisonTarget(
        "campaigns",
        "campaigns.campaign.due",
        lambda: CampaignDue(
            campaign_id=str(ObjectId()),
            fire_id=f"{ObjectId()}:2026-01-01T09:00:00Z",
            due_at="2026-01-01T09:00:00+00:00",
        ),
        "poison: unknown run",
    ),
    PoisonTarget(
        "mailer",
        "mailer.send.requested",
        lambda: SendRequested(
            campaign_id=str(ObjectId()),
            channel="email",
            topic="newsletter",
            template_id=str(ObjectId()),
            customer_ids=[str(ObjectId())],
        ),
        "poison: template",
    ),
]


def test_every_worker_has_a_poison_target():
    workers = {service for service, part in inventory.all_parts() if part == "worker"}
    missing = workers - {target.service for target in TARGETS}
    assert not missing, f"add a PoisonTarget to TARGETS for the {sorted(missing)} worker(s)"


def publish_raw(service_env, event_type: str, body: bytes) -> None:
    topology = service_env.topology
    with Connection(service_env.amqp_url, transport_options={"confirm_publish": True}) as conn:
        Producer(conn.channel()).publish(
            body,
            exchange=topology.exchange_for(event_type),
            routing_key=event_type,
            content_type="application/json",
            delivery_mode=2,
            headers={"correlation_id": "poison-test"},
        )


@pytest.mark.parametrize("target", TARGETS, ids=str)
def test_poison_is_dead_lettered_with_the_reason_and_the_worker_keeps_consuming(service_env, target):
    worker = service_env.start(target.service, "worker")
    queue = service_env.topology.name(target.queue)
    wait_consuming(service_env.amqp_url, queue)

    poison = target.never_succeeds()
    good = json.loads(envelope_for(poison, target.service).to_json())
    wrong_version = {**good, "message_id": "wrong-version", "schema_version": poison.schema_version + 98}
    publish_raw(service_env, poison.type, b'{"type": "' + poison.type.encode() + b'", oops')
    publish_raw(service_env, poison.type, json.dumps(wrong_version).encode())
    publish_raw(service_env, poison.type, json.dumps(good).encode())

    letters = []

    def collected(count):
        assert worker.poll() is None, f"the worker exited with {worker.poll()} (its log is printed below)"
        letters.extend(drain(service_env.amqp_url, f"{queue}.dlq"))
        return len(letters) >= count

    try:
        wait_until(lambda: collected(3), timeout=60, what=f"three dead letters in {queue}.dlq")
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}; got {[letter.headers.get('x-vinculo-reason') for letter in letters]}"
        ) from None
    reasons = sorted(letter.headers["x-vinculo-reason"] for letter in letters)
    assert reasons[0].startswith("malformed message: body is not JSON"), reasons
    assert reasons[1].startswith(f"malformed message: schema_version {poison.schema_version + 98} "), reasons
    assert reasons[2].startswith(target.reason), reasons
    assert {letter.headers["x-vinculo-queue"] for letter in letters} == {queue}
    assert worker.poll() is None, "the worker must stay up"

    # Still consuming: one more is handled (dead-lettered) after the poison.
    publish_raw(service_env, poison.type, b"\xff not utf-8")
    wait_until(lambda: collected(4), timeout=60, what="the worker to take a message after the poison")
    assert letters[3].headers["x-vinculo-reason"] == "malformed message: body is not UTF-8"
    assert worker.poll() is None


def publish_burst(service_env, event_type: str, bodies: list[bytes]) -> None:
    """Publish every body at once, then wait for the broker's confirms (a burst, and none lost:
    messages published without confirms may be dropped when the connection closes)."""

    import amqp

    with Connection(service_env.amqp_url) as conn:
        channel = conn.default_channel
        raw = conn.connection.channels[channel.channel_id]
        raw.confirm_select()
        confirmed = [0]
        raw.events["basic_ack"].add(lambda tag, multiple: confirmed.__setitem__(0, max(confirmed[0], tag)))
        for body in bodies:
            raw.basic_publish(
                amqp.Message(body, content_type="application/json", delivery_mode=2),
                exchange=service_env.topology.exchange_for(event_type).name,
                routing_key=event_type,
            )

        def all_confirmed():
            try:
                conn.drain_events(timeout=0.2)
            except TimeoutError:
                pass
            return confirmed[0] >= len(bodies)

        wait_until(all_confirmed, timeout=30, what="the broker's confirms")


@pytest.mark.parametrize("target", TARGETS, ids=str)
def test_a_burst_of_malformed_messages_is_dead_lettered_in_full(service_env, target):
    """Hundreds of dead letters in a row: each waits for the broker's confirm while more
    messages arrive. (Republished on the consuming channel, one multiple ack confirming two
    nested publishes left the outer wait hanging: the worker stopped after ~200.)"""
    service_env.start(target.service, "worker")
    queue = service_env.topology.name(target.queue)
    wait_consuming(service_env.amqp_url, queue)
    kind = target.never_succeeds().type
    publish_burst(
        service_env, kind, [b'{"type": "' + kind.encode() + b'", oops ' + str(i).encode() for i in range(300)]
    )
    letters = []

    def collected():
        letters.extend(drain(service_env.amqp_url, f"{queue}.dlq", limit=1000))
        return len(letters) >= 300

    try:
        wait_until(collected, timeout=60, what=f"300 dead letters in {queue}.dlq")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; got {len(letters)}") from None
    assert all(letter.headers["x-vinculo-reason"].startswith("malformed message") for letter in letters)
