"""A broker that cannot take delivery events does not lose them: they wait
in the outbox and the worker's sweep relays them, with the same ids."""

from __future__ import annotations

import json

from kombu import Connection

from shared.messaging.contracts import DeliverySent
from shared.messaging.outbox import Outbox
from shared.messaging.publisher import OutboxMessage, Publisher
from tests.support import drain


def test_unconfirmed_batch_goes_to_the_outbox_and_is_relayed(service_env):
    topology = service_env.topology
    with Connection(service_env.amqp_url) as conn:
        topology.declare(conn.channel(), ["campaigns.delivery"])
    good = Outbox(Publisher(service_env.amqp_url, topology, "mailer"))
    down = Outbox.connect("amqp://guest:guest@127.0.0.1:1//", topology, "mailer")  # nothing listens there
    items = [
        (
            DeliverySent(delivery_id=f"d{n}", campaign_id="c", customer_id="x", channel="email"),
            f"delivery-d{n}-sent",
        )
        for n in range(3)
    ]
    down.publish_many([(event, message_id, None) for event, message_id in items])
    assert sorted(m.message_id for m in OutboxMessage.objects) == [
        "delivery-d0-sent",
        "delivery-d1-sent",
        "delivery-d2-sent",
    ]
    assert good.relay() == 3 and OutboxMessage.objects.count() == 0
    # and through a working broker, one confirm wait for the whole batch
    up = Outbox.connect(service_env.amqp_url, topology, "mailer")
    up.publish_many(
        [
            (
                DeliverySent(delivery_id="d9", campaign_id="c", customer_id="x", channel="email"),
                "delivery-d9-sent",
                None,
            )
        ]
    )
    up.close()
    good.publisher.close()
    received = [
        json.loads(m.body)["message_id"]
        for m in drain(service_env.amqp_url, topology.name("campaigns.delivery"))
    ]
    assert sorted(received) == [
        "delivery-d0-sent",
        "delivery-d1-sent",
        "delivery-d2-sent",
        "delivery-d9-sent",
    ]


def test_an_event_the_broker_cannot_take_now_is_kept_once_with_when_it_happened(service_env):
    import datetime

    topology = service_env.topology
    with Connection(service_env.amqp_url) as conn:
        topology.declare(conn.channel(), ["campaigns.delivery"])
    down = Outbox(Publisher("amqp://guest:guest@127.0.0.1:1//", topology, "mailer"))
    sent = DeliverySent(delivery_id="d1", campaign_id="c", customer_id="x", channel="email")
    at = datetime.datetime(2026, 11, 20, 9, 30)  # naive: UTC, as the store keeps it
    down.publish(sent, "delivery-d1-sent", occurred_at=at)
    down.publish(sent, "delivery-d1-sent", occurred_at=at)  # a retry of the same fact
    assert [m.message_id for m in OutboxMessage.objects] == ["delivery-d1-sent"]

    good = Outbox(Publisher(service_env.amqp_url, topology, "mailer"))
    assert good.relay() == 1
    good.publisher.close()
    [message] = drain(service_env.amqp_url, topology.name("campaigns.delivery"))
    body = json.loads(message.body)
    assert body["message_id"] == "delivery-d1-sent" and body["occurred_at"] == "2026-11-20T09:30:00+00:00"
    assert body["payload"]["delivery_id"] == "d1"
