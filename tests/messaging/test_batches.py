"""The consumer base's micro-batches against the real RabbitMQ and store:
duplicates dropped by message id, a failing batch handled message by message
(poison to the DLQ, the rest handled), a lone message handled without waiting
for more, and a batch never acked unless handled."""

from __future__ import annotations

import socket

import pytest

from shared.messaging.consumer import Poison, ProcessedMessage, Worker
from shared.messaging.contracts import envelope_for
from shared.messaging.publisher import Publisher, connect
from shared.messaging.topology import Topology
from tests.messaging.test_worker import QUEUE, consent, dead_letters, run_until
from tests.support import queue_depth


class Recorder:
    """A batch handler and a per-message handler that remember what they got."""

    def __init__(self, poison: str | None = None):
        self.batches: list[list[str]] = []
        self.singles: list[str] = []
        self.poison = poison

    def batch(self, envelopes):
        if self.poison and any(env.event().customer_id == self.poison for env in envelopes):
            raise Poison(f"unknown customer {self.poison}")
        self.batches.append([env.message_id for env in envelopes])

    def single(self, envelope):
        if envelope.event().customer_id == self.poison:
            raise Poison(f"unknown customer {self.poison}")
        self.singles.append(envelope.message_id)

    def handled(self) -> list[str]:
        return [mid for batch in self.batches for mid in batch] + self.singles


def batch_worker(amqp_url, namespace, recorder, **kwargs):
    kwargs.setdefault("base_delay", 0.05)
    kwargs.setdefault("max_delay", 0.2)
    return Worker(
        connect(amqp_url),
        Topology(namespace),
        {QUEUE: recorder.single},
        name="test",
        batch_handlers={QUEUE: recorder.batch},
        **kwargs,
    )


def publish(amqp_url, namespace, envelopes):
    worker_topology = Topology(namespace)
    with connect(amqp_url) as conn:
        worker_topology.declare(conn.channel(), [QUEUE])
    publisher = Publisher(amqp_url, worker_topology, "mailer")
    for envelope in envelopes:
        publisher.publish_envelope(envelope)
    publisher.close()


def test_a_batch_drops_duplicates_by_message_id(amqp_url, namespace, mongo_uri):
    envelopes = [envelope_for(consent(f"c{i}"), "mailer") for i in range(6)]
    already = envelopes[0]
    ProcessedMessage(consumer=f"{namespace}{QUEUE}", message_id=already.message_id).save()
    # envelopes[1] twice in the same stream, envelopes[0] handled before this worker started
    publish(amqp_url, namespace, envelopes + [envelopes[1]])
    recorder = Recorder()
    worker = batch_worker(amqp_url, namespace, recorder, batch_wait=1.0)
    run_until(worker, lambda: worker.stats.handled + worker.stats.duplicates == 7)
    assert sorted(recorder.handled()) == sorted(env.message_id for env in envelopes[1:])
    assert recorder.singles == [], "the per-message path is only for failed batches"
    assert worker.stats.handled == 5 and worker.stats.duplicates == 2
    assert ProcessedMessage.objects(consumer=f"{namespace}{QUEUE}").count() == 6
    assert queue_depth(amqp_url, f"{namespace}{QUEUE}") == 0


def test_messages_a_batch_handler_ignores_are_acked_without_a_processed_record(
    amqp_url, namespace, mongo_uri
):
    envelopes = [envelope_for(consent(f"c{i}"), "mailer") for i in range(4)]
    publish(amqp_url, namespace, envelopes)
    recorder = Recorder()
    ignored = {envelopes[1].message_id, envelopes[3].message_id}

    def batch(batch_envelopes):
        recorder.batch(batch_envelopes)
        return [env.message_id for env in batch_envelopes if env.message_id in ignored]

    worker = Worker(
        connect(amqp_url),
        Topology(namespace),
        {QUEUE: recorder.single},
        name="test",
        batch_handlers={QUEUE: batch},
        batch_wait=1.0,
    )
    run_until(worker, lambda: worker.stats.handled == 4)
    records = {row.message_id for row in ProcessedMessage.objects(consumer=f"{namespace}{QUEUE}")}
    assert records == {envelopes[0].message_id, envelopes[2].message_id}
    assert queue_depth(amqp_url, f"{namespace}{QUEUE}") == 0


def test_a_batch_is_flushed_when_it_reaches_its_size(amqp_url, namespace, mongo_uri):
    envelopes = [envelope_for(consent(f"c{i}"), "mailer") for i in range(7)]
    publish(amqp_url, namespace, envelopes)
    recorder = Recorder()
    worker = batch_worker(amqp_url, namespace, recorder, batch_size=3, batch_wait=1.0)
    run_until(worker, lambda: worker.stats.handled == 7)
    assert max(len(batch) for batch in recorder.batches) <= 3
    assert sorted(recorder.handled()) == sorted(env.message_id for env in envelopes)


def test_a_failing_batch_is_handled_message_by_message(amqp_url, namespace, mongo_uri):
    good = [envelope_for(consent(f"c{i}"), "mailer") for i in range(4)]
    bad = envelope_for(consent("ghost"), "mailer")
    publish(amqp_url, namespace, good[:2] + [bad] + good[2:])
    recorder = Recorder(poison="ghost")
    worker = batch_worker(amqp_url, namespace, recorder, batch_wait=1.0)
    run_until(worker, lambda: worker.stats.handled == 4 and worker.stats.dead_lettered == 1)
    assert sorted(recorder.handled()) == sorted(env.message_id for env in good)
    assert len(recorder.handled()) == 4, "each message handled once"
    letters = dead_letters(amqp_url, namespace)
    assert [m.headers["x-vinculo-reason"] for m in letters] == ["poison: unknown customer ghost"]
    assert ProcessedMessage.objects(consumer=f"{namespace}{QUEUE}").count() == 4
    assert queue_depth(amqp_url, f"{namespace}{QUEUE}") == 0


def test_a_lone_message_is_handled_without_waiting_for_a_full_batch(amqp_url, namespace, mongo_uri):
    recorder = Recorder()
    worker = batch_worker(amqp_url, namespace, recorder, batch_size=100)
    first, second = (envelope_for(consent(f"c{i}"), "mailer") for i in range(2))
    with worker.connection:
        worker.topology.declare(worker.connection.channel(), [QUEUE])
        publish(amqp_url, namespace, [first])
        run_until(worker, lambda: worker.stats.handled == 1)
        publish(amqp_url, namespace, [second])
        run_until(worker, lambda: worker.stats.handled == 2)
    assert recorder.batches == [[first.message_id], [second.message_id]]


def take_into_batch(worker, consuming, count):
    while worker.pending_count < count:
        next(consuming)


def test_a_stopping_worker_handles_its_batch_before_it_exits(amqp_url, namespace, mongo_uri):
    envelopes = [envelope_for(consent(f"c{i}"), "mailer") for i in range(3)]
    publish(amqp_url, namespace, envelopes)
    recorder = Recorder()
    worker = batch_worker(amqp_url, namespace, recorder, batch_wait=30.0)
    consuming = worker.consume(timeout=10)
    take_into_batch(worker, consuming, 3)
    assert recorder.batches == []
    worker.should_stop = True
    with pytest.raises(StopIteration):
        next(consuming)
    assert recorder.batches == [[env.message_id for env in envelopes]]
    assert queue_depth(amqp_url, f"{namespace}{QUEUE}") == 0


def test_a_batch_cut_off_by_a_lost_connection_is_redelivered_and_handled_once(amqp_url, namespace, mongo_uri):
    envelopes = [envelope_for(consent(f"c{i}"), "mailer") for i in range(5)]
    publish(amqp_url, namespace, envelopes)
    recorder = Recorder()
    first = batch_worker(amqp_url, namespace, recorder, batch_wait=30.0)
    consuming = first.consume(timeout=10)
    take_into_batch(first, consuming, 3)
    first.consuming_channel.connection.sock.shutdown(socket.SHUT_RDWR)  # the broker is gone
    with pytest.raises(Exception):  # noqa: B017 - whatever py-amqp raises for a socket shut under it
        while True:
            next(consuming)
    assert recorder.handled() == [], "nothing handled, so nothing acked"
    assert first.pending_count == 0

    second = batch_worker(amqp_url, namespace, recorder)
    run_until(second, lambda: second.stats.handled == 5)
    assert sorted(recorder.handled()) == sorted(env.message_id for env in envelopes)
    assert ProcessedMessage.objects(consumer=f"{namespace}{QUEUE}").count() == 5
    assert queue_depth(amqp_url, f"{namespace}{QUEUE}") == 0


def test_a_batch_publisher_waits_for_all_confirms_or_keeps_the_events_in_the_outbox(
    amqp_url, namespace, mongo_uri
):
    from shared.messaging.publisher import BatchPublisher, OutboxMessage

    envelopes = [envelope_for(consent(f"c{i}"), "mailer") for i in range(3)]
    down = BatchPublisher("amqp://guest:guest@127.0.0.1:1//", Topology(namespace), "mailer")
    assert down.publish_envelopes(envelopes) is False
    assert sorted(m.message_id for m in OutboxMessage.objects) == sorted(e.message_id for e in envelopes)

    OutboxMessage.objects.delete()
    recorder = Recorder()
    worker = batch_worker(amqp_url, namespace, recorder)
    with worker.connection:
        worker.topology.declare(worker.connection.channel(), [QUEUE])
        up = BatchPublisher(amqp_url, Topology(namespace), "mailer")
        assert up.publish_envelopes(envelopes) is True
        up.publish_envelopes(envelopes[:1])  # the same channel again: tags keep counting
        up._connection.connection.transport.sock.close()  # the connection breaks (a broker restart)
        assert up.publish_envelopes(envelopes[1:2]) is True, "a broken connection is replaced once"
        up.close()
        assert queue_depth(amqp_url, f"{namespace}{QUEUE}") == 5, "confirmed means queued"
        run_until(worker, lambda: worker.stats.handled + worker.stats.duplicates == 5)
    assert OutboxMessage.objects.count() == 0
    assert sorted(recorder.handled()) == sorted(e.message_id for e in envelopes)


def test_a_batch_publisher_sends_large_batches_whole_and_in_order(amqp_url, namespace, mongo_uri):
    """Frames leave in writes of many messages (fewer_writes): every message arrives intact, in
    order, including one larger than a frame, and a plain publish on the same channel still works."""
    from shared.messaging.publisher import BatchPublisher
    from tests.support import drain

    envelopes = [envelope_for(consent(f"c{i}"), "mailer") for i in range(300)]
    envelopes[150] = envelope_for(consent("x" * 300_000), "mailer")  # more than one frame (frame_max 128 KiB)
    with connect(amqp_url) as conn:
        Topology(namespace).declare(conn.channel(), [QUEUE])
    publisher = BatchPublisher(amqp_url, Topology(namespace), "mailer")
    assert publisher.publish_envelopes(envelopes) is True
    transport = publisher._connection.connection.transport
    assert "_write" in vars(transport) and transport._write == transport.sock.sendall, "the raw send is back"
    assert publisher.publish_envelopes(envelopes[:1]) is True
    publisher.close()
    taken = drain(amqp_url, f"{namespace}{QUEUE}", limit=400)
    assert [m.properties["message_id"] for m in taken] == [e.message_id for e in envelopes + envelopes[:1]]
    assert taken[150].body == envelopes[150].to_json()
