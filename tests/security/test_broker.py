"""Broker messages that can never be handled go to the dead-letter queue at
once (issue 15, finding 18): a well-formed envelope of a type the queue is
not bound for, and a delivery event for a campaign that does not exist."""

from __future__ import annotations

from bson import ObjectId
from kombu import Connection, Producer

from shared.messaging.consumer import Worker
from shared.messaging.contracts import CustomerCreated, DeliverySent, envelope_for
from shared.messaging.publisher import Publisher, connect
from shared.messaging.topology import Topology, accepts
from tests.support import drain

QUEUE = "campaigns.delivery"


def campaigns_worker(amqp_url, namespace):
    """The campaigns worker's real handler for the delivery queue, with the default 5 tries."""
    from services.campaigns import results

    return Worker(
        connect(amqp_url),
        Topology(namespace),
        {QUEUE: results.on_delivery},
        name="campaigns",
        max_attempts=5,
        base_delay=0.05,
        max_delay=0.2,
    )


def consume_until(worker, condition, limit=20):
    for _ in worker.consume(limit=limit, timeout=10):
        if condition():
            return
    raise AssertionError("condition not reached while consuming")


def sent(campaign_id: str, delivery_id: str = "d1") -> DeliverySent:
    return DeliverySent(
        delivery_id=delivery_id, campaign_id=campaign_id, customer_id=str(ObjectId()), channel="email"
    )


def test_topic_bindings_decide_what_a_queue_accepts():
    assert accepts(QUEUE, "delivery.sent") and accepts(QUEUE, "delivery.clicked")
    assert not accepts(QUEUE, "customer.created")
    assert accepts("segments.facts", "consent.changed") and not accepts("segments.facts", "campaign.due")


def test_an_envelope_of_an_unexpected_type_is_dead_lettered_at_once_with_the_reason(
    amqp_url, namespace, mongo_uri
):
    worker = campaigns_worker(amqp_url, namespace)
    stray = envelope_for(CustomerCreated(customer_id=str(ObjectId()), external_id="ñandú-7"), "segments")
    with worker.connection:
        channel = worker.connection.channel()
        worker.topology.declare(channel, [QUEUE])
        # Valid in every way but its type: put straight into the queue (default exchange).
        with Connection(amqp_url, transport_options={"confirm_publish": True}) as conn:
            Producer(conn.channel()).publish(
                stray.to_json().encode(),
                exchange="",
                routing_key=f"{namespace}{QUEUE}",
                content_type="application/json",
            )
        consume_until(worker, lambda: worker.stats.dead_lettered == 1)
    assert worker.stats.retried == 0, "a type the queue does not handle is never retried"
    letters = drain(amqp_url, f"{namespace}{QUEUE}.dlq")
    assert len(letters) == 1
    headers = letters[0].headers
    assert headers["x-vinculo-reason"] == f"unexpected type: customer.created is not handled by {QUEUE}"
    assert headers["x-vinculo-attempts"] == 1


def test_a_forged_delivery_for_an_unknown_campaign_is_not_a_result(amqp_url, namespace, mongo_uri):
    from services.campaigns.store import campaigns, facts

    real = (
        campaigns().insert_one({"state": "sent", "name": "Rebajas de enero", "channel": "email"}).inserted_id
    )
    worker = campaigns_worker(amqp_url, namespace)
    publisher = Publisher(amqp_url, Topology(namespace), "mailer")
    forged_id = str(ObjectId())
    with worker.connection:
        worker.topology.declare(worker.connection.channel(), [QUEUE])
        publisher.publish(sent(forged_id, "forged-1"))
        publisher.publish(sent("not-an-id", "forged-2"))
        publisher.publish(sent(str(real), "real-1"))
        consume_until(worker, lambda: worker.stats.handled == 1 and worker.stats.dead_lettered == 2)
    publisher.close()
    assert worker.stats.retried == 0
    assert [f["_id"] for f in facts().find({})] == ["real-1:sent"]
    reasons = sorted(m.headers["x-vinculo-reason"] for m in drain(amqp_url, f"{namespace}{QUEUE}.dlq"))
    assert reasons == sorted(
        [
            "poison: delivery.sent for unknown campaign 'not-an-id'",
            f"poison: delivery.sent for unknown campaign '{forged_id}'",
        ]
    )
