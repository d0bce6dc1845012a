"""Scenarios 2 and 3 for the workers that exist today (segments): RabbitMQ
and the store restarted in the middle of a stream of events. The worker
process reconnects on its own, every event is applied once, nothing is
dead-lettered, and events published while the broker was down wait in the
outbox and go out after. The campaign versions (asserting on the SMTP sink)
build on the same fixtures; see tests/reliability/README.md.
"""

from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage

import pytest
import requests

from shared import store
from shared.documents import prepare_store
from shared.messaging.consumer import ProcessedMessage
from shared.messaging.contracts import ConsentChanged
from shared.messaging.outbox import Outbox
from shared.messaging.publisher import OutboxMessage, Publisher
from shared.models import Customer
from tests.reliability.infra import PrivateStore, SmtpSink
from tests.support import ServiceEnv, drain, wait_consuming, wait_until

pytestmark = pytest.mark.slow


def consent(customer, status="granted"):
    return ConsentChanged(
        customer_id=str(customer.id), channel="email", topic="newsletter", status=status, source="api"
    )


def granted(customers) -> int:
    ids = [c.id for c in customers]
    return Customer.objects(id__in=ids, **{"consent__email__newsletter": "granted"}).count()


def make_customers(count: int) -> list:
    return [
        Customer(email=f"c{i}-{uuid.uuid4().hex[:6]}@example.com", first_name=f"C{i}").save()
        for i in range(count)
    ]


def test_a_rabbitmq_restart_mid_stream_loses_nothing_and_applies_everything_once(
    private_rabbit, mongo_uri, tmp_path
):
    env = ServiceEnv(
        mongo_uri=mongo_uri,
        amqp_url=private_rabbit.url,
        namespace=f"r{uuid.uuid4().hex[:8]}.",
        tmp_path=tmp_path,
    )
    try:
        customers = make_customers(45)
        worker = env.start("segments", "worker")
        queue = env.topology.name("segments.facts")
        wait_consuming(private_rabbit.url, queue, timeout=60)
        outbox = Outbox(Publisher(private_rabbit.url, env.topology, "mailer"))
        for customer in customers[:15]:
            outbox.publish(consent(customer))

        private_rabbit.stop_app()  # whatever was still queued must survive on disk
        for customer in customers[15:30]:
            outbox.publish(consent(customer))  # broker down: kept in the outbox
        assert OutboxMessage.objects.count() == 15
        private_rabbit.start_app()

        wait_until(
            lambda: outbox.relay() >= 0 and OutboxMessage.objects.count() == 0,
            timeout=60,
            what="the outbox to drain after the restart",
        )
        for customer in customers[30:]:
            outbox.publish(consent(customer))
        wait_until(
            lambda: granted(customers) == len(customers),
            timeout=120,
            what="every consent to reach its profile",
        )
        assert worker.poll() is None, "the worker reconnected by itself"
        assert "broker connection lost" in worker.log_path.read_text(), "the restart did reach the worker"
        # The worker records a message as processed just after applying it: wait for the last record.
        wait_until(
            lambda: ProcessedMessage.objects(consumer=queue).count() == len(customers),
            timeout=30,
            what="every message recorded as processed once",
        )
        assert ProcessedMessage.objects(consumer=queue).count() == len(customers)
        assert drain(private_rabbit.url, f"{queue}.dlq") == []
    finally:
        env.stop_all()


def test_a_store_restart_mid_stream_loses_nothing(namespace, amqp_url, tmp_path):
    private = PrivateStore(tmp_path / "store").start()
    uri = private.uri("reliability")
    prepare_store(uri)
    env = ServiceEnv(mongo_uri=uri, amqp_url=amqp_url, namespace=namespace, tmp_path=tmp_path)
    try:
        customers = make_customers(30)
        worker = env.start(
            "segments",
            "worker",
            VINCULO_SEGMENTS_WORKER_MAX_ATTEMPTS="50",
            VINCULO_SEGMENTS_WORKER_MAX_RETRY_DELAY="1",
        )
        base = env.start_api("segments")
        queue = env.topology.name("segments.facts")
        wait_consuming(amqp_url, queue)
        publisher = Publisher(amqp_url, env.topology, "mailer")
        for customer in customers[:10]:
            publisher.publish(consent(customer))
        wait_until(lambda: granted(customers) == 10, timeout=60, what="the first ten consents")

        private.stop()
        for customer in customers[10:20]:
            publisher.publish(consent(customer))  # the worker fails on them, and retries
        # Down for longer than the driver's server selection (5 s) rides out: the handler fails.
        wait_until(
            lambda: "failed (attempt 1)" in worker.log_path.read_text(),
            timeout=60,
            what="the worker to fail on the store outage",
        )
        assert requests.get(f"{base}/readyz", timeout=30).status_code == 503
        private.start()  # same port, same data

        for customer in customers[20:]:
            publisher.publish(consent(customer))
        wait_until(
            lambda: granted(customers) == len(customers),
            timeout=180,
            what="every consent to reach its profile after the store came back",
        )
        wait_until(
            lambda: requests.get(f"{base}/readyz", timeout=30).status_code == 200,
            timeout=60,
            what="the api to be ready again",
        )
        assert worker.poll() is None, "the worker reconnected by itself"
        # The worker records a message as processed just after applying it: wait for the last record.
        wait_until(
            lambda: ProcessedMessage.objects(consumer=queue).count() == len(customers),
            timeout=30,
            what="every message recorded as processed once",
        )
        assert ProcessedMessage.objects(consumer=queue).count() == len(customers)
        assert drain(amqp_url, f"{queue}.dlq") == []
    finally:
        env.stop_all()
        store.disconnect()
        private.stop()


def test_the_smtp_sink_keeps_what_it_receives():
    sink = SmtpSink().start()
    try:
        for to in ("ana@example.com", "ana@example.com", "luis@example.com"):
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = "news@vinculo.test", to, "Hola"
            message.set_content("¡Hola!")
            with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as client:
                client.send_message(message)
        assert sorted(sink.recipients()) == ["ana@example.com", "ana@example.com", "luis@example.com"]
        assert sink.messages[0]["Subject"] == "Hola" and sink.messages[0].get_content().strip() == "¡Hola!"
    finally:
        sink.stop()
