"""Test helpers: service processes, broker inspection, waiting for a condition."""

from __future__ import annotations

import collections
import contextlib
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from kombu import Connection
from pymongo import monitoring

from devstack import procs
from shared.messaging.topology import Topology

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "test-admin-key"
MARKETER_KEY = "test-marketer-key"
CM_KEY = "test-cm-key-123"
ANALYST_KEY = "test-analyst-key"
API_KEYS = f"{ADMIN_KEY}:admin,{MARKETER_KEY}:marketer,{CM_KEY}:community_manager,{ANALYST_KEY}:analyst"
# Generated per test run: a secret written in the repository is refused at start-up.
SECRET = secrets.token_urlsafe(32)


def wait_until(condition, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    """Poll ``condition`` until it returns a truthy value; fail after ``timeout``.

    The timeout is a deadline for waiting on real processes, not an assertion
    on speed: generous, and only ever reached when something is broken.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def bound_queue(service_env, service: str, routing_key: str, name: str) -> str:
    """A queue of this test on ``service``'s exchange for ``routing_key``, which the broker
    drops a minute after its last use (broker_cleanup knows only the topology's queues)."""
    from kombu import Queue

    queue_name = service_env.topology.name(f"test.{name}")
    with Connection(service_env.amqp_url) as conn, conn.channel() as channel:
        Queue(
            queue_name,
            exchange=service_env.topology.exchange(service),
            routing_key=routing_key,
            queue_arguments={"x-expires": 60000},
        )(channel).declare()
    return queue_name


class Handover:
    """Events of one type taken from the real broker and handed to the consuming service's
    real handler, for a test that runs that service's code in-process instead of its worker."""

    def __init__(self, service_env, producer: str, routing_key: str, handler):
        self.amqp_url, self.handler = service_env.amqp_url, handler
        self.queue = bound_queue(service_env, producer, routing_key, f"handover.{routing_key}")

    def deliver(self, expected: int = 1) -> int:
        """Wait for ``expected`` events, hand each to the handler; how many there were."""
        from shared.messaging.contracts import parse_envelope

        taken: list = []
        wait_until(
            lambda: taken.extend(drain(self.amqp_url, self.queue)) or len(taken) >= expected,
            timeout=10,
            what=f"{expected} event(s) in {self.queue}",
        )
        for message in taken:
            self.handler(parse_envelope(message.body))
        return len(taken)


def broker_cleanup(amqp_url: str, namespace: str) -> None:
    topology = Topology(namespace)
    with Connection(amqp_url) as conn:
        from shared.messaging.topology import QUEUES, SERVICES

        for plain in QUEUES:
            for queue in (
                topology.queue(plain),
                topology.retry_queue(plain),
                topology.dead_letter_queue(plain),
            ):
                try:
                    with conn.channel() as channel:
                        queue(channel).delete()
                except Exception:  # noqa: BLE001 - not declared by this test
                    pass
        for service in SERVICES:
            try:
                with conn.channel() as channel:
                    topology.exchange(service)(channel).delete()
            except Exception:  # noqa: BLE001
                pass


def drain(amqp_url: str, queue_name: str, limit: int = 100) -> list:
    """Take every message now in ``queue_name`` (acked), as kombu messages."""
    taken = []
    with Connection(amqp_url) as conn, conn.channel() as channel:
        while len(taken) < limit:
            message = channel.basic_get(queue_name, no_ack=False)
            if message is None:
                break
            channel.basic_ack(message.delivery_tag)
            taken.append(channel.message_to_python(message))
    return taken


def record_timeline(envelopes) -> None:
    """Segments' ``segments.facts`` handler applied to ``envelopes`` (parsed events), as its
    worker would: the timeline entries (and profile facts) they carry."""
    from services.segments.consumers import handlers

    handle = handlers()["segments.facts"]
    for envelope in envelopes:
        handle(envelope)


class Timeline:
    """The customer's timeline, written in-process by segments' real handler: every event
    ``segments.facts`` is bound to is copied into a queue of this test (``test.timeline``,
    declared before the events are published), and ``deliver()`` hands those now there to
    the handler. The test's own checks of ``segments.facts`` see every event still."""

    def __init__(self, service_env):
        from shared.messaging.topology import QUEUES

        self.amqp_url = service_env.amqp_url
        for producer, routing_key in QUEUES["segments.facts"]:
            self.queue = bound_queue(service_env, producer, routing_key, "timeline")

    def deliver(self, limit: int = 1000) -> int:
        """Hand the events now in the queue to the handler, synchronously: no thread and no
        wait (publishing waited for the broker's confirms); how many there were."""
        from shared.messaging.contracts import parse_envelope

        taken = drain(self.amqp_url, self.queue, limit)
        record_timeline([parse_envelope(message.body) for message in taken])
        return len(taken)


def consumers_on(amqp_url: str, queue_name: str) -> int:
    """How many consumers a queue has (0 when it does not exist yet)."""
    try:
        with Connection(amqp_url) as conn, conn.channel() as channel:
            _, _, consumers = channel.queue_declare(queue=queue_name, passive=True)
            return consumers
    except Exception:  # noqa: BLE001 - not declared yet
        return 0


def wait_consuming(amqp_url: str, queue_name: str, timeout: float = 30) -> None:
    """Wait until a worker consumes ``queue_name`` (so its bindings exist too)."""
    wait_until(
        lambda: consumers_on(amqp_url, queue_name) > 0, timeout=timeout, what=f"a consumer on {queue_name}"
    )


def queue_depth(amqp_url: str, queue_name: str) -> int:
    with Connection(amqp_url) as conn, conn.channel() as channel:
        _, count, _ = channel.queue_declare(queue=queue_name, passive=True)
        return count


@dataclass
class ServiceEnv:
    mongo_uri: str
    amqp_url: str
    namespace: str
    tmp_path: Path
    processes: list = field(default_factory=list)

    @property
    def topology(self) -> Topology:
        return Topology(self.namespace)

    def env(self, **extra) -> dict:
        env = {key: value for key, value in os.environ.items() if not key.startswith("VINCULO_")}
        env.update(
            {
                "VINCULO_MONGO_URI": self.mongo_uri,
                "VINCULO_AMQP_URL": self.amqp_url,
                "VINCULO_API_KEYS": API_KEYS,
                "VINCULO_SECRET_KEY": SECRET,
                "VINCULO_BROKER_NAMESPACE": self.namespace,
                "VINCULO_LOG_LEVEL": "INFO",
                "VINCULO_WORKER_RETRY_DELAY": "0.05",
                "VINCULO_WORKER_MAX_RETRY_DELAY": "0.5",
                "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update({key: str(value) for key, value in extra.items()})
        return env

    def settings(self, load, **overrides):
        """A service's Settings for in-process use (app factories, workers)."""
        return load(self.env(), **overrides)

    def start(self, service: str, part: str, *args: str, **extra_env) -> subprocess.Popen:
        """Start ``python -m services.<service> <part>``; its log goes to tmp_path."""
        log_path = self.tmp_path / f"{service}-{part}-{len(self.processes)}.log"
        log = open(log_path, "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{service}", part, *args],
            cwd=ROOT,
            env=self.env(**extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        proc.log_path = log_path
        self.processes.append(proc)
        return proc

    def start_api(self, service: str, **extra_env) -> str:
        """Start a service's api on a free port and wait until /healthz answers; its base URL."""
        port = procs.free_port()
        prefix = service.upper()
        proc = self.start(
            service,
            "api",
            **{
                f"VINCULO_{prefix}_BIND": f"127.0.0.1:{port}",
                f"VINCULO_{prefix}_WEB_WORKERS": "1",
                **extra_env,
            },
        )
        base = f"http://127.0.0.1:{port}"

        def up():
            if proc.poll() is not None:
                raise AssertionError(f"{service} api exited: {proc.log_path.read_text()[-2000:]}")
            try:
                return requests.get(f"{base}/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                # gunicorn listens before its worker has loaded the app: not up yet
                return False

        wait_until(up, timeout=30, what=f"{service} api to answer")
        return base

    def stop_all(self) -> None:
        for proc in self.processes:
            procs.stop(proc)
        self.processes.clear()

    def print_logs(self, processes=None, tail: int = 6000) -> None:
        """Print the end of each process's log (for a failed test's report)."""
        for proc in self.processes if processes is None else processes:
            text = proc.log_path.read_text(errors="replace")[-tail:]
            print(f"--- {proc.log_path.name} (exit {proc.poll()}), last lines ---\n{text}")


class StoreCommands(monitoring.CommandListener):
    """The store commands sent inside ``counting()``, as (command, collection) -> how many.
    A test module registers one at import (``monitoring.register``), before any client exists:
    the test's store client is made per test."""

    def __init__(self):
        self.seen: collections.Counter = collections.Counter()
        self._armed = False

    @contextlib.contextmanager
    def counting(self):
        self.seen.clear()
        self._armed = True
        try:
            yield self.seen
        finally:
            self._armed = False

    def started(self, event):
        if self._armed:
            self.seen[(event.command_name, event.command.get(event.command_name))] += 1

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass
