"""The operator's dead-letter command against the real RabbitMQ: messages the real
consumer dead-lettered are listed with their reason, shown without being taken,
replayed onto their queue (and then handled), or dropped."""

from __future__ import annotations

import json
import subprocess
import sys

from shared.messaging.contracts import envelope_for
from shared.messaging.deadletters import DeadLetters
from tests.messaging.test_worker import QUEUE, consent, make_worker, publish_raw, run_until
from tests.support import queue_depth


def dead_letter_two(amqp_url, namespace):
    """A poison message and an event its handler refused, dead-lettered by the real Worker."""
    seen = []
    failing = {"on": True}

    def handler(envelope):
        if failing["on"]:
            from shared.messaging.consumer import Poison

            raise Poison("customer c7 does not exist yet")
        seen.append(envelope.event())

    worker = make_worker(amqp_url, namespace, handler)
    refused = envelope_for(consent("c7"), "mailer", message_id="refused-1")
    with worker.connection:
        publish_raw(amqp_url, namespace, b"{not json")
        publish_raw(amqp_url, namespace, refused.to_json().encode())
        run_until(worker, lambda: queue_depth(amqp_url, f"{namespace}{QUEUE}.dlq") == 2)
    return worker, failing, seen


def test_list_show_replay_and_drop(amqp_url, namespace, mongo_uri):
    worker, failing, seen = dead_letter_two(amqp_url, namespace)
    tool = DeadLetters(amqp_url, namespace)
    try:
        assert tool.counts()[QUEUE] == 2
        shown = tool.show(QUEUE)
        reasons = sorted(s["reason"] for s in shown)
        assert (
            reasons[0].startswith("malformed message")
            and reasons[1] == "poison: customer c7 does not exist yet"
        )
        assert {s["type"] for s in shown} == {None, "consent.changed"}
        assert tool.counts()[QUEUE] == 2, "show takes nothing"
        # the cause is fixed: replay the refused one by its id; it is handled this time
        failing["on"] = False
        assert tool.replay(QUEUE, limit=5, message_id="refused-1") == 1
        assert tool.counts()[QUEUE] == 1
        replayed = make_worker(amqp_url, namespace, lambda env: seen.append(env.event()))
        with replayed.connection:
            run_until(replayed, lambda: seen)
        assert seen == [consent("c7")]
        assert tool.drop(QUEUE, limit=5) == 1
        assert tool.counts()[QUEUE] == 0
    finally:
        tool.close()


def test_the_command_line(amqp_url, namespace, mongo_uri):
    dead_letter_two(amqp_url, namespace)
    env = {"VINCULO_AMQP_URL": amqp_url, "VINCULO_BROKER_NAMESPACE": namespace, "PATH": "/usr/bin:/bin"}

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "shared.messaging.deadletters", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    listed = run("list")
    assert listed.returncode == 0 and f"       2  {QUEUE}" in listed.stdout.splitlines()
    shown = [json.loads(line) for line in run("show", QUEUE).stdout.splitlines()]
    assert len(shown) == 2 and {s["message_id"] for s in shown} >= {"refused-1"}
    refused = run("drop", QUEUE, "--limit", "2")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert run("drop", QUEUE, "--limit", "2", "--yes").stdout.strip() == f"dropped 2 from {QUEUE}.dlq"
    assert run("show", "no.such.queue").returncode != 0
