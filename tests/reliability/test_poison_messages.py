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
from dataclasses import dataclass
from typing import Callable

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
    PoisonTarget("segments", "segments.facts",
                 lambda: ConsentChanged(customer_id=str(ObjectId()), channel="email", topic="newsletter",
                                        status="granted", source="api"),
                 "poison: unknown customer"),
    PoisonTarget("campaigns", "campaigns.campaign.due",
                 lambda: CampaignDue(campaign_id=str(ObjectId()), fire_id=f"{ObjectId()}:2026-01-01T09:00:00Z",
                                     due_at="2026-01-01T09:00:00+00:00"),
                 "poison: unknown run"),
    PoisonTarget("mailer", "mailer.send.requested",
                 lambda: SendRequested(campaign_id=str(ObjectId()), channel="email", topic="newsletter",
                                       template_id=str(ObjectId()), customer_ids=[str(ObjectId())]),
                 "poison: template"),
]


def test_every_worker_has_a_poison_target():
    workers = {service for service, part in inventory.all_parts() if part == "worker"}
    missing = workers - {target.service for target in TARGETS}
    assert not missing, f"add a PoisonTarget to TARGETS for the {sorted(missing)} worker(s)"


def publish_raw(service_env, event_type: str, body: bytes) -> None:
    topology = service_env.topology
    with Connection(service_env.amqp_url, transport_options={"confirm_publish": True}) as conn:
        Producer(conn.channel()).publish(body, exchange=topology.exchange_for(event_type), routing_key=event_type,
                                         content_type="application/json", delivery_mode=2,
                                         headers={"correlation_id": "poison-test"})


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
        letters.extend(drain(service_env.amqp_url, f"{queue}.dlq"))
        return len(letters) >= count

    wait_until(lambda: collected(3), timeout=60, what=f"three dead letters in {queue}.dlq")
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
