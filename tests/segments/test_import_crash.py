"""An import across a crash: a real segments worker process killed (SIGKILL, through the
``VINCULO_FAULT`` fault point the product reads) between a batch's store writes and the
publish of its events. The batch's intent, written before the writes, lets the relay
announce what was written (customer.created/updated, consent.imported) once, and never
what was not."""

from __future__ import annotations

import json

from services.segments.bootstrap import build
from services.segments.settings import load
from shared.messaging.outbox import intents
from shared.models import Customer
from tests.segments.test_imports import upload
from tests.support import bound_queue, drain

ROWS = (
    "email,first_name,consent.email.newsletter,consent.source,consent.date,consent.wording\n"
    "ana@example.es,Ana,granted,Feria,2025-03-31,v3\n"
    "luis@example.es,Luis,,,,\n"
    "eva@example.es,Eva,revoked,,,\n"
)


def killed_worker(service_env, fault: str) -> None:
    proc = service_env.start(
        "segments", "worker", VINCULO_SEGMENTS_JOB_POLL_SECONDS="0.2", VINCULO_FAULT=fault
    )
    assert proc.wait(timeout=60) == -9, proc.log_path.read_text()[-2000:]


def events(service_env, queue) -> list[dict]:
    return [json.loads(m.body) for m in drain(service_env.amqp_url, queue, limit=1000)]


def test_a_worker_killed_after_a_batch_is_written_has_its_events_delivered_once(api, service_env):
    queue = bound_queue(service_env, "segments", "#", "import-crash")
    Customer._get_collection().insert_one({"email": "eva@example.es", "first_name": "Evita", "erased": False})
    upload(api, ROWS.encode())
    killed_worker(service_env, "after_write")

    people = {c["email"]: str(c["_id"]) for c in Customer._get_collection().find()}
    assert sorted(people) == ["ana@example.es", "eva@example.es", "luis@example.es"]  # written ...
    assert events(service_env, queue) == []  # ... and not announced
    assert intents().count_documents({}) == 1  # one intent for the batch

    parts = build(service_env.settings(load))
    assert parts.outbox.relay(older_than=0) == 5
    assert parts.outbox.relay(older_than=0) == 0  # nothing twice
    parts.close()
    taken = events(service_env, queue)
    assert sorted((e["type"], e["payload"]["customer_id"]) for e in taken) == sorted(
        [
            ("customer.created", people["ana@example.es"]),
            ("customer.created", people["luis@example.es"]),
            ("customer.updated", people["eva@example.es"]),  # her first name
            ("consent.imported", people["ana@example.es"]),
            ("consent.imported", people["eva@example.es"]),
        ]
    )
    assert intents().count_documents({}) == 0


def test_a_batch_whose_writes_never_happened_announces_nothing(api, service_env):
    queue = bound_queue(service_env, "segments", "#", "import-no-write")
    upload(api, ROWS.encode())
    killed_worker(service_env, "after_intent")

    assert Customer.objects.count() == 0  # killed before the batch's writes
    [intent] = intents().find()
    assert sorted(json.loads(e)["type"] for e in intent["envelopes"]) == [
        "consent.imported",
        "consent.imported",
        "customer.created",
        "customer.created",
        "customer.created",
    ]

    parts = build(service_env.settings(load))
    assert parts.outbox.relay(older_than=0) == 0
    parts.close()
    assert events(service_env, queue) == []
    assert intents().count_documents({}) == 0
