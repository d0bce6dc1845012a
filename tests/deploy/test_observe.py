"""Metrics, access logs with the correlation id, container health checks and
the topology declaration, on real processes, real RabbitMQ and the store."""

from __future__ import annotations

import json
import subprocess
import sys

import requests
from bson import ObjectId
from kombu import Connection, Producer
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from devstack import procs
from shared.messaging.consumer import Worker
from shared.messaging.contracts import ConsentChanged
from shared.messaging.publisher import Publisher, connect
from shared.messaging.topology import QUEUES, Topology
from shared.models import Customer
from tests.support import ROOT, consumers_on, queue_depth, wait_consuming, wait_until


def samples(text: str, name: str) -> dict[tuple, float]:
    """{sorted label items: value} of one metric in Prometheus text."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def log_lines(proc) -> list[dict]:
    lines = []
    for raw in proc.log_path.read_text().splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            pass  # gunicorn's own start-up lines are not JSON
    return lines


def logged(proc, message: str) -> list[dict] | None:
    """The process's log lines once one of them says ``message``."""
    lines = log_lines(proc)
    return lines if any(line.get("message") == message for line in lines) else None


def test_api_metrics_sum_every_gunicorn_process_and_requests_are_logged(service_env):
    base = service_env.start_api("segments", VINCULO_SEGMENTS_WEB_WORKERS="2")
    for _ in range(12):  # a new connection each time, so both processes answer some
        assert requests.get(f"{base}/readyz", timeout=10).status_code == 200
    missing = requests.get(f"{base}/no/such/thing", headers={"X-Correlation-ID": "corr-access-1"}, timeout=5)
    assert missing.status_code == 404

    scraped = requests.get(f"{base}/metrics", timeout=5)  # public: no key
    assert scraped.status_code == 200 and scraped.headers["Content-Type"].startswith("text/plain")
    assert "python_info" not in scraped.text, "multiprocess mode: only the summed process files are served"
    requests_total = samples(scraped.text, "vinculo_http_requests_total")
    labels = (("endpoint", "/readyz"), ("method", "GET"), ("service", "segments"), ("status", "200"))
    assert requests_total[labels] == 12
    assert (
        requests_total[
            (("endpoint", "<unmatched>"), ("method", "GET"), ("service", "segments"), ("status", "404"))
        ]
        == 1
    )
    latency = samples(scraped.text, "vinculo_http_request_duration_seconds_count")
    assert latency[(("endpoint", "/readyz"), ("method", "GET"), ("service", "segments"))] == 12
    assert "/metrics" not in requests.get(f"{base}/openapi.json", timeout=5).json()["paths"]

    proc = service_env.processes[-1]
    access = wait_until(
        lambda: [line for line in log_lines(proc) if line.get("path") == "/no/such/thing"],
        what="the access log line",
    )
    assert access[0]["logger"] == "vinculo.access"
    assert access[0]["status"] == 404 and access[0]["method"] == "GET"
    assert access[0]["correlation_id"] == "corr-access-1"
    assert access[0]["duration_ms"] >= 0


def test_worker_metrics_and_logs_carry_queue_outcomes_and_correlation_ids(service_env):
    customer = Customer(email="rosa@example.com", first_name="Rosa").save()
    port = procs.free_port()
    worker = service_env.start(
        "segments",
        "worker",
        VINCULO_SEGMENTS_METRICS_PORT=str(port),
        VINCULO_SEGMENTS_QUEUE_LAG_INTERVAL="0.2",
    )
    queue = service_env.topology.name("segments.facts")
    wait_consuming(service_env.amqp_url, queue)
    Publisher(service_env.amqp_url, service_env.topology, "mailer").publish(
        ConsentChanged(
            customer_id=str(customer.id), channel="email", topic="news", status="granted", source="api"
        ),
        correlation_id="corr-worker-1",
    )
    with Connection(service_env.amqp_url, transport_options={"confirm_publish": True}) as conn:
        Producer(conn.channel()).publish(
            b"not json",
            exchange=service_env.topology.exchange("mailer"),
            routing_key="consent.changed",
            headers={"correlation_id": "corr-bad-2"},
        )

    def scrape():
        """The text once both messages are through (counted when taken, and again when done)."""
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        done = sum(samples(text, "vinculo_messages_handled_total").values()) + sum(
            samples(text, "vinculo_messages_dead_lettered_total").values()
        )
        return text if done == 2 else None

    text = wait_until(scrape, what="two messages counted")
    assert samples(text, "vinculo_messages_consumed_total") == {(("queue", "segments.facts"),): 2}
    assert samples(text, "vinculo_messages_handled_total") == {(("queue", "segments.facts"),): 1}
    assert samples(text, "vinculo_messages_dead_lettered_total") == {
        (("cause", "malformed"), ("queue", "segments.facts")): 1
    }
    assert samples(text, "vinculo_message_handling_seconds_count") == {(("queue", "segments.facts"),): 1}
    wait_until(
        lambda: (
            samples(
                requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text,
                "vinculo_queue_messages_ready",
            ).get((("queue", "segments.facts"),))
            == 0
        ),
        what="the queue-lag gauge",
    )

    lines = wait_until(lambda: logged(worker, "message handled"), what="the handled message in the log")
    handled = [line for line in lines if line["message"] == "message handled"]
    assert [(line["correlation_id"], line["type"]) for line in handled] == [
        ("corr-worker-1", "consent.changed")
    ]
    dead = [line for line in lines if line["message"] == "message dead-lettered"]
    assert dead[0]["correlation_id"] == "corr-bad-2" and dead[0]["reason"].startswith("malformed")

    healthcheck = [sys.executable, "-m", "shared.healthcheck", "segments", "worker"]
    env = service_env.env(VINCULO_SEGMENTS_METRICS_PORT=str(port))
    assert subprocess.run(healthcheck, cwd=ROOT, env=env).returncode == 0
    service_env.stop_all()
    assert subprocess.run(healthcheck, cwd=ROOT, env=env, capture_output=True).returncode == 1


def test_the_queue_lag_gauge_counts_ready_messages(amqp_url, namespace, mongo_uri):
    publisher = Publisher(amqp_url, Topology(namespace), "mailer")
    worker = Worker(connect(amqp_url), publisher.topology, {"segments.facts": lambda env: None}, name="lag")
    with worker.connection:
        publisher.topology.declare(worker.connection.channel(), ["segments.facts"])
        for _ in range(3):
            publisher.publish(
                ConsentChanged(
                    customer_id=str(ObjectId()), channel="email", topic="news", status="granted", source="api"
                )
            )
        worker.sample_lag()
        worker._close_lag_connection()
    assert REGISTRY.get_sample_value("vinculo_queue_messages_ready", {"queue": "segments.facts"}) == 3

    away = Worker(
        connect("amqp://guest:guest@127.0.0.1:1//"),
        publisher.topology,
        {"segments.facts": lambda env: None},
        name="lag",
    )
    away.sample_lag()  # no broker: returns at once, leaves the gauge as it was
    assert away._lag_connection is None
    assert REGISTRY.get_sample_value("vinculo_queue_messages_ready", {"queue": "segments.facts"}) == 3


def test_the_api_health_check_follows_the_bind_setting(service_env):
    base = service_env.start_api("segments")
    port = base.rsplit(":", 1)[1]
    healthcheck = [sys.executable, "-m", "shared.healthcheck", "segments", "api"]
    env = service_env.env(VINCULO_SEGMENTS_BIND=f"0.0.0.0:{port}")
    assert subprocess.run(healthcheck, cwd=ROOT, env=env).returncode == 0
    service_env.stop_all()
    assert subprocess.run(healthcheck, cwd=ROOT, env=env, capture_output=True).returncode == 1


def test_declaring_the_topology_creates_every_queue_idempotently(service_env):
    command = [sys.executable, "-m", "shared.messaging.declare"]
    for _ in range(2):
        done = subprocess.run(command, cwd=ROOT, env=service_env.env(), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    for plain in QUEUES:
        for suffix in ("", ".retry", ".dlq"):
            assert queue_depth(service_env.amqp_url, service_env.topology.name(plain + suffix)) == 0
            assert consumers_on(service_env.amqp_url, service_env.topology.name(plain + suffix)) == 0
    missing = subprocess.run(
        command,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "VINCULO_AMQP_URL is required" in missing.stderr


def test_the_image_health_check_finds_the_part_its_container_runs(tmp_path):
    """One HEALTHCHECK per image (`python -m shared.healthcheck <service>`): the part is read
    from the processes the container runs; none or several of the service's parts is unhealthy."""
    from shared.healthcheck import running_parts

    def process(pid, *argv):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_bytes("\0".join(argv).encode() + b"\0")

    process(1, "/usr/libexec/podman/catatonit", "--", "python", "-m", "services.mailer", "worker")
    process(7, "python", "-m", "services.mailer", "worker")
    process(9, "python", "-m", "shared.healthcheck", "mailer")
    assert running_parts("mailer", tmp_path) == {"worker"}
    assert running_parts("segments", tmp_path) == set()
    process(12, "/opt/venv/bin/python", "-m", "services.mailer", "api")
    assert running_parts("mailer", tmp_path) == {"worker", "api"}

    # (the image's check run in each part's container: tests/deploy/in_containers.py)
