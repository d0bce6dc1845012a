"""The optional X filtered stream through tweepy's real StreamingClient:
rules kept one per query, tweets through the pipeline, reconnecting when the
server closes the stream, stopping cleanly on 401 with the query's status."""

from __future__ import annotations

from services.listener.announce import BatchPublisher
from services.listener.models import ListeningQuery, Mention, SourceCursor
from services.listener.pipeline import Pipeline
from services.listener.stream import MentionStream


def test_stream_rules_tweets_reconnect_and_401(service_env, poller_settings, fake):
    _, state = fake
    query = ListeningQuery(name="marca", keywords=["cafeluna"], sources=["x"]).save()
    other = ListeningQuery(name="otra", hashtags=["Sol"], sources=["x"]).save()
    publisher = BatchPublisher(service_env.amqp_url, service_env.topology)
    stream = MentionStream(poller_settings, Pipeline(publisher), max_retries=3)
    assert stream.sync_rules([query, other]) == {"added": 2, "deleted": 0}
    assert stream.sync_rules([query, other]) == {"added": 0, "deleted": 0}
    assert sorted(r["tag"] for r in state.rules.values()) == sorted([str(query.id), str(other.id)])
    other.update(set__hashtags=["Sol", "Playa"])
    other.reload()
    assert stream.sync_rules([query, other]) == {"added": 1, "deleted": 1}

    # Two connections: the server closes the first after two tweets; tweepy reconnects.
    state.stream_batches = [
        [
            state.stream_line("Me encanta cafeluna", "ana", str(query.id)),
            state.stream_line("Fatal cafeluna hoy", "bob", str(query.id)),
        ],
        [state.stream_line("Sol y #Playa", "eva", str(other.id))],
    ]
    stream.stop_after = 3
    stream.run()
    assert state.stream_connections == 2
    assert Mention.objects.count() == 3
    assert Mention.objects(author_handle="bob").first().label == "negative"
    assert Mention.objects(author_handle="eva").first().query_id == other.id

    state.fail["stream"] = [401]
    stopped = MentionStream(poller_settings, Pipeline(publisher), max_retries=3)
    stopped.sync_rules([query])
    stopped.run()  # returns: the handler disconnected on 401
    assert stopped.stopped_by == 401
    status = SourceCursor.objects(query_id=query.id, source="x").first()
    assert status.status == "auth_failed" and "401" in status.message
    publisher.close()
