"""Mentions stored once, linked to customers by handle, announced over the real
broker (segments adds them to the customer's timeline); several poller replicas."""

from __future__ import annotations

import json

from kombu import Connection

from services.listener.models import ListeningQuery, Mention
from shared.messaging.contracts import parse_envelope
from shared.models import Customer, Interaction
from tests.support import drain, record_timeline, wait_until


def declare_facts_queue(service_env) -> str:
    """The segments service's real queue for mention.received, declared in this test's namespace."""
    with Connection(service_env.amqp_url) as conn, conn.channel() as channel:
        service_env.topology.declare(channel, ["segments.facts"])
    return service_env.topology.name("segments.facts")


def events(service_env, queue: str, expected: int) -> list:
    taken: list = []
    wait_until(
        lambda: taken.extend(drain(service_env.amqp_url, queue)) or len(taken) >= expected,
        what=f"{expected} events on {queue}",
    )
    return [parse_envelope(message.body) for message in taken]


def test_each_post_is_stored_once_linked_and_announced(service_env, make_poller, fake):
    _, state = fake
    queue = declare_facts_queue(service_env)
    lucia = Customer(email="lucia@example.com", first_name="Lucía", social={"x": "@LuciaGarcia"}).save()
    brand = ListeningQuery(name="marca", keywords=["cafeluna"], sources=["x"]).save()
    campaign = ListeningQuery(name="campaña", hashtags=["CafeLuna"], sources=["x"]).save()
    linked_id = state.add_tweet("No me gusta nada el nuevo café de @CafeLuna 😡", author="LuciaGarcia")
    for i in range(3):
        state.add_tweet(f"Me encanta @CafeLuna {i}", author=f"fan{i}", lang="es")
    state.add_tweet("Loving the new @CafeLuna latte", author="emma", lang="en")

    make_poller().run_once()  # both queries fetch the same five tweets
    assert Mention.objects.count() == 5
    stored = Mention.objects(post_id=linked_id).first()
    assert sorted(map(str, stored.query_ids)) == sorted([str(brand.id), str(campaign.id)])
    assert stored.customer_id == lucia.id and stored.label == "negative" and stored.lang == "es"
    assert stored.author_handle == "luciagarcia"
    from services.listener.pipeline import pending_collection

    assert pending_collection().count_documents({}) == 0  # every batch announced
    assert Mention.objects(text__contains="latte").first().lang == "en"

    envelopes = events(service_env, queue, 5)
    assert len({e.message_id for e in envelopes}) == 5 and all(
        e.type == "mention.received" for e in envelopes
    )
    by_post = {e.payload["post_id"]: e.event() for e in envelopes}
    assert by_post[linked_id].customer_id == str(lucia.id)
    assert by_post[linked_id].label == "negative" and by_post[linked_id].mention_id == str(stored.id)
    record_timeline(envelopes)  # segments' consumer of segments.facts, as its worker would
    timeline = Interaction.objects(customer_id=lucia.id)
    assert [(i.kind, i.key) for i in timeline] == [("mention", f"mention:x:{linked_id}")]
    assert timeline[0].sentiment == stored.sentiment < 0 and "No me gusta" in timeline[0].summary

    # Fetched again (a cursor lost, say): nothing new is stored or announced.
    from services.listener.models import SourceCursor

    SourceCursor.objects.update(set__cursor={})
    make_poller().run_once()
    assert Mention.objects.count() == 5 and Interaction.objects.count() == 1
    assert drain(service_env.amqp_url, queue) == []


def test_two_poller_replicas_store_and_announce_each_post_once(service_env, fake):
    base, state = fake
    queue = declare_facts_queue(service_env)
    for i in range(3):
        ListeningQuery(
            name=f"q{i}", keywords=[f"marca{i}"], hashtags=["Vinculo"], sources=["x", "mastodon"]
        ).save()
    for i in range(10):
        state.add_tweet(f"Post {i} sobre #Vinculo, muy bueno", author=f"user{i}")
        state.add_status("vinculo", f"Toot {i} sobre #Vinculo", acct=f"user{i}@social.example")
    env = {
        "VINCULO_LISTENER_X_BEARER_TOKEN": "test-bearer",
        "VINCULO_LISTENER_X_API_BASE": base,
        "VINCULO_LISTENER_MASTODON_BASE_URL": base,
        "VINCULO_LISTENER_POLL_INTERVAL": "0.3",
        "VINCULO_LISTENER_POLL_IDLE": "0.1",
        "VINCULO_LISTENER_FIRST_POLL_PAGES": "20",
    }
    replicas = [service_env.start("listener", "poller", **env) for _ in range(2)]
    wait_until(lambda: Mention.objects.count() == 20, timeout=60, what="20 mentions")
    for i in range(10, 15):
        state.add_tweet(f"Post {i} sobre #Vinculo", author=f"user{i}")
    wait_until(lambda: Mention.objects.count() == 25, timeout=60, what="25 mentions")
    envelopes = events(service_env, queue, 25)
    assert sorted(e.payload["post_id"] for e in envelopes) == sorted(m.post_id for m in Mention.objects)
    wait_until(
        lambda: all(len(m.query_ids) == 3 for m in Mention.objects),
        timeout=60,
        what="every query to have found every post",
    )
    assert Mention.objects.count() == 25 and drain(service_env.amqp_url, queue) == []
    assert all(proc.poll() is None for proc in replicas), [p.log_path.read_text()[-2000:] for p in replicas]
    logs = "".join(p.log_path.read_text() for p in replicas)
    assert "Traceback" not in logs, logs[-3000:]
    polled_by = {json.loads(line).get("message") for line in logs.splitlines() if line.startswith("{")}
    assert "polled" in polled_by


def test_a_batch_left_unannounced_by_a_crash_is_announced_by_the_sweep(service_env):
    import datetime

    from services.listener.announce import BatchPublisher
    from services.listener.pipeline import Pipeline, pending_collection
    from services.listener.sources.base import Post

    queue = declare_facts_queue(service_env)
    query = ListeningQuery(name="marca", keywords=["luna"], sources=["x"]).save()
    publisher = BatchPublisher(service_env.amqp_url, service_env.topology)
    pipeline = Pipeline(publisher)
    pipeline.ingest(
        query,
        [Post(source="x", post_id="1", text="Luna me encanta", posted_at=datetime.datetime(2026, 11, 20))],
    )
    first = events(service_env, queue, 1)
    # As if the process had died after storing the batch and before publishing it.
    pending_collection().insert_one(
        {"kind": "mention.received", "ids": [Mention.objects.first().id], "at": datetime.datetime(2026, 1, 1)}
    )
    assert pipeline.sweep(older_than=60) == 1
    again = events(service_env, queue, 1)
    assert again[0].message_id == first[0].message_id  # the same id: consumers drop the copy
    assert pending_collection().count_documents({}) == 0
    publisher.close()


def test_many_batches_are_stored_and_announced_once_each_in_order(service_env):
    """Batches go through the understand / store / announce stages at the same time."""
    import datetime

    from services.listener.announce import BatchPublisher
    from services.listener.pipeline import Pipeline, pending_collection
    from services.listener.sources.base import Post

    queue = declare_facts_queue(service_env)
    ana = Customer(email="ana@example.com", social={"x": "ana"}).save()
    query = ListeningQuery(name="marca", keywords=["luna"], sources=["x"]).save()
    posts = [
        Post(
            source="x",
            post_id=str(i),
            text=f"Luna {'me encanta' if i % 2 else 'no me gusta'} {i}",
            author_handle="ana" if i % 5 == 0 else f"u{i}",
            posted_at=datetime.datetime(2026, 11, 20),
        )
        for i in range(23)
    ]
    posts.insert(10, posts[3])  # found twice (another page): one mention
    publisher = BatchPublisher(service_env.amqp_url, service_env.topology)
    result = Pipeline(publisher, batch_size=4).ingest(query, posts)
    publisher.close()

    assert [d["post_id"] for d in result.new] == [str(i) for i in range(23)]
    assert result.duplicates == 1 and result.linked == 5
    assert pending_collection().count_documents({}) == 0
    envelopes = events(service_env, queue, 23)
    announced = [e.payload["post_id"] for e in envelopes]
    assert announced == [str(i) for i in range(23)]
    record_timeline(envelopes)  # segments' consumer of segments.facts, as its worker would
    assert Mention.objects.count() == 23 and Interaction.objects(customer_id=ana.id).count() == 5


def test_a_batch_the_store_refuses_stops_the_ingest_and_keeps_the_batches_before_it(service_env):
    import datetime

    import pytest
    from bson.errors import InvalidDocument

    from services.listener.announce import BatchPublisher
    from services.listener.pipeline import Pipeline
    from services.listener.sources.base import Post

    queue = declare_facts_queue(service_env)
    query = ListeningQuery(name="marca", keywords=["luna"], sources=["x"]).save()
    posts = [
        Post(source="x", post_id=str(i), text=f"Luna {i}", posted_at=datetime.datetime(2026, 11, 20))
        for i in range(10)
    ]
    posts[5].posted_at = object()  # the third batch (posts 4 and 5) cannot be encoded for the store
    publisher = BatchPublisher(service_env.amqp_url, service_env.topology)
    with pytest.raises(InvalidDocument):
        Pipeline(publisher, batch_size=2).ingest(query, posts)
    publisher.close()
    assert sorted(m.post_id for m in Mention.objects) == ["0", "1", "2", "3"]
    assert sorted(e.payload["post_id"] for e in events(service_env, queue, 4)) == ["0", "1", "2", "3"]
    assert drain(service_env.amqp_url, queue) == []
