"""alert.raised across a crash: a real process evaluating a spike, killed (SIGKILL, through
the ``VINCULO_FAULT=after_write`` fault point the outbox reads) after the episode is claimed
and before the alert is published. The open episode keeps every later evaluation from
raising it; the intent written before the claim lets the relay announce it, once."""

from __future__ import annotations

import json
import subprocess
import sys

from services.listener.bootstrap import build
from services.listener.models import AlertEpisode, ListeningQuery
from services.listener.settings import load
from shared.messaging.outbox import intents
from tests.listener.test_alerts import add
from tests.support import ROOT, bound_queue, drain

EVALUATE = """
from services.listener.bootstrap import build
from services.listener.models import ListeningQuery
parts = build()
parts.prepare_store()
parts.alerts.evaluate(ListeningQuery.objects.get(name="marca"))
"""


def test_a_process_killed_after_claiming_an_episode_has_the_alert_raised_once(service_env):
    queue = bound_queue(service_env, "listener", "alert.raised", "alert-crash")
    query = ListeningQuery(name="marca", keywords=["luna"], sources=["x"]).save()
    add(query, 10, "neutral", 300)
    add(query, 8, "negative", 10)
    killed = subprocess.run(
        [sys.executable, "-c", EVALUATE],
        cwd=ROOT,
        env=service_env.env(VINCULO_FAULT="after_write"),
        timeout=60,
    )
    assert killed.returncode == -9
    [episode] = AlertEpisode.objects  # claimed ...
    assert drain(service_env.amqp_url, queue) == []  # ... and not announced

    parts = build(service_env.settings(load))
    assert parts.alerts.evaluate(query) is None  # the open episode: no new alert
    assert parts.outbox.relay(older_than=0) == 1
    assert parts.outbox.relay(older_than=0) == 0
    parts.close()
    [message] = drain(service_env.amqp_url, queue)
    body = json.loads(message.body)
    assert body["payload"]["alert_id"] == str(episode.id) and body["payload"]["negative_count"] == 8
    assert intents().count_documents({}) == 0
