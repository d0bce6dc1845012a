"""Alert episodes: a negative spike raises alert.raised once per episode
(also with two evaluators at once), the episode closes when the rate falls
back, the webhook is retried and its attempts recorded."""

from __future__ import annotations

import datetime
import threading

import pytest
from kombu import Connection, Queue, binding

from services.listener.alerts import Alerts, Rule
from services.listener.announce import BatchPublisher
from services.listener.models import AlertEpisode, ListeningQuery, Mention, WebhookCall
from shared.messaging.contracts import parse_envelope
from shared.outbound import Outbound
from shared.store import utcnow
from tests.support import drain, wait_until


def add(query, count, label, minutes_ago):
    now = utcnow()
    for i in range(count):
        Mention(
            source="x",
            post_id=f"{label}-{minutes_ago}-{i}-{Mention.objects.count()}",
            query_id=query.id,
            query_ids=[query.id],
            text="t",
            lang="es",
            label=label,
            sentiment={"negative": -0.6, "neutral": 0.0, "positive": 0.6}[label],
            posted_at=now - datetime.timedelta(minutes=minutes_ago),
        ).save()


@pytest.fixture
def alert_queue(service_env):
    name = service_env.topology.name("test.alert.raised")
    queue = Queue(
        name, bindings=[binding(service_env.topology.exchange("listener"), routing_key="alert.raised")]
    )
    with Connection(service_env.amqp_url) as conn, conn.channel() as channel:
        service_env.topology.exchange("listener")(channel).declare()
        queue(channel).declare()
    yield name
    with Connection(service_env.amqp_url) as conn, conn.channel() as channel:
        queue(channel).delete()


def test_a_spike_raises_one_alert_per_episode_and_calls_the_webhook(service_env, fake, alert_queue):
    base, state = fake
    publisher = BatchPublisher(service_env.amqp_url, service_env.topology)
    alerts = Alerts(
        publisher,
        Rule(),
        webhook_timeout=2,
        webhook_attempts=3,
        retry_delay=0.05,
        outbound=Outbound(allow_private=True, timeout=2),
    )  # the fake webhook is on 127.0.0.1
    query = ListeningQuery(name="marca", keywords=["luna"], sources=["x"], webhook_url=f"{base}/hook").save()
    add(query, 18, "neutral", 600)  # baseline: 2 negatives in 20 (10 %)
    add(query, 2, "negative", 300)
    add(query, 3, "negative", 30)  # window: 3 of 4 negative, but fewer than the minimum count
    add(query, 1, "positive", 20)
    assert alerts.evaluate(query) is None

    state.fail["hook"] = [500]  # the first webhook call fails, the retry succeeds
    add(query, 4, "negative", 10)  # now 7 of 8 negative in the last hour
    episode = alerts.evaluate(query)
    assert episode is not None and episode.negative_count == 7
    assert episode.negative_share == pytest.approx(7 / 8) and episode.baseline_share == pytest.approx(0.1)
    add(query, 3, "negative", 5)
    assert alerts.evaluate(query) is None  # the same episode: no second alert
    assert AlertEpisode.objects.count() == 1
    assert AlertEpisode.objects.first().peak_negative_count == 10

    raised = [
        parse_envelope(m.body)
        for m in wait_until(lambda: drain(service_env.amqp_url, alert_queue), what="alert.raised")
    ]
    assert len(raised) == 1 and raised[0].type == "alert.raised"
    event = raised[0].event()
    assert event.alert_id == str(episode.id) and event.query_id == str(query.id) and event.negative_count == 7
    wait_until(lambda: AlertEpisode.objects.first().webhook_status == "delivered", what="the webhook")
    calls = list(WebhookCall.objects(episode_id=episode.id).order_by("attempt"))
    assert [(c.attempt, c.ok, c.status_code) for c in calls] == [(1, False, 500), (2, True, 200)]
    assert state.hooks[-1]["body"]["alert_id"] == str(episode.id)

    # The rate falls back (many calm mentions): the episode closes; a new spike is a new episode.
    add(query, 80, "positive", 15)  # 10 of 91 negative: within 1.25 x the baseline share
    alerts.evaluate(query)
    closed = AlertEpisode.objects.first()
    assert closed.status == "closed" and closed.closed_at is not None
    Mention.objects(label="positive", posted_at__gt=utcnow() - datetime.timedelta(minutes=16)).delete()
    assert alerts.evaluate(query) is not None
    assert AlertEpisode.objects.count() == 2 and AlertEpisode.objects(status="open").count() == 1
    alerts.close()
    publisher.close()


def test_two_evaluators_at_once_raise_it_once(service_env, alert_queue):
    query = ListeningQuery(name="marca", keywords=["luna"], sources=["x"]).save()
    add(query, 10, "neutral", 300)
    add(query, 8, "negative", 10)
    replicas = [Alerts(BatchPublisher(service_env.amqp_url, service_env.topology), Rule()) for _ in range(4)]
    barrier = threading.Barrier(len(replicas))
    opened = []

    def run(alerts):
        barrier.wait()
        opened.append(alerts.evaluate(query))

    threads = [threading.Thread(target=run, args=(a,)) for a in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([e for e in opened if e is not None]) == 1
    assert AlertEpisode.objects.count() == 1
    taken = wait_until(lambda: drain(service_env.amqp_url, alert_queue), what="alert.raised")
    assert len(taken) == 1
    for alerts in replicas:
        alerts.close()
        alerts.publisher.close()


def test_a_dead_webhook_is_recorded_as_failed(service_env):
    query = ListeningQuery(
        name="marca", keywords=["luna"], sources=["x"], webhook_url="http://127.0.0.1:9/hook"
    ).save()
    add(query, 6, "negative", 5)
    alerts = Alerts(
        BatchPublisher(service_env.amqp_url, service_env.topology),
        Rule(),
        webhook_timeout=1,
        webhook_attempts=2,
        retry_delay=0.01,
        outbound=Outbound(allow_private=True, timeout=1),
    )
    episode = alerts.evaluate(query)
    assert episode is not None  # with no baseline, a share of 100 % over the minimum count is a spike
    wait_until(lambda: AlertEpisode.objects(id=episode.id).first().webhook_status == "failed", what="failure")
    assert WebhookCall.objects(episode_id=episode.id).count() == 2
    assert all(
        c.error == "could not connect to 127.0.0.1:9" for c in WebhookCall.objects(episode_id=episode.id)
    )
    alerts.close()
    alerts.publisher.close()
