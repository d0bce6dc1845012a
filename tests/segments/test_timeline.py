"""The profile's timeline, which segments owns: its segments.facts handler appends one
entry per fact of the other services' events, in one insert_many per batch, and a
redelivered event (the same fact) adds nothing."""

from __future__ import annotations

import datetime

from bson import ObjectId
from pymongo import monitoring

from services.segments.consumers import batch_handlers, handlers
from shared.messaging.contracts import (
    ConsentChanged,
    DeliveryBounced,
    DeliveryClicked,
    DeliveryOpened,
    DeliverySent,
    MentionCorrected,
    MentionReceived,
    envelope_for,
)
from shared.models import Customer, Interaction
from tests.support import StoreCommands

POSTED = "2026-11-20T09:00:00+00:00"


COMMANDS = StoreCommands()
monitoring.register(COMMANDS)


def events_of(customer_id: str) -> list:
    return [
        envelope_for(
            MentionReceived(
                mention_id="m1",
                query_id="q1",
                source="x",
                post_id="p1",
                author_handle="ana",
                lang="es",
                sentiment=-0.4,
                label="negative",
                posted_at=POSTED,
                customer_id=customer_id,
                url="https://x.com/ana/status/p1",
                summary="No me gusta",
            ),
            "listener",
        ),
        envelope_for(
            DeliverySent(
                delivery_id="d1",
                campaign_id="c1",
                customer_id=customer_id,
                channel="email",
                sent_at="2026-11-20T10:00:00+00:00",
            ),
            "mailer",
        ),
        envelope_for(
            DeliveryOpened(delivery_id="d1", campaign_id="c1", customer_id=customer_id, channel="email"),
            "mailer",
        ),
        envelope_for(
            ConsentChanged(
                customer_id=customer_id, channel="email", topic="newsletter", status="granted", source="api"
            ),
            "mailer",
            message_id="consent-e1",
        ),
    ]


def test_each_fact_is_one_entry_once_and_a_batch_is_one_insert(service_env):
    ana = Customer(email="ana@example.com").save()
    envelopes = events_of(str(ana.id))
    with COMMANDS.counting() as seen:
        batch_handlers()["segments.facts"](envelopes)
    assert seen[("insert", "interactions")] == 1

    by_key = {i.key: i for i in Interaction.objects(customer_id=ana.id)}
    assert set(by_key) == {"mention:x:p1", "delivery:d1:sent", "delivery:d1:opened", "consent:e1"}
    assert by_key["mention:x:p1"].summary == "No me gusta" and by_key["mention:x:p1"].sentiment == -0.4
    assert by_key["delivery:d1:sent"].at == datetime.datetime(2026, 11, 20, 10, 0)
    assert by_key["consent:e1"].summary == "email/newsletter: granted (api)"

    # Redelivered, one by one and as a batch: nothing is added.
    handle = handlers()["segments.facts"]
    for envelope in envelopes:
        handle(envelope)
    batch_handlers()["segments.facts"](envelopes)
    assert Interaction.objects(customer_id=ana.id).count() == 4

    corrected = MentionCorrected(
        mention_id="m1", source="x", post_id="p1", customer_id=str(ana.id), sentiment=0.6, label="positive"
    )
    handle(envelope_for(corrected, "listener"))
    assert Interaction.objects(key="mention:x:p1").first().sentiment == 0.6


def test_an_erased_customers_timeline_keeps_what_happened_and_nothing_it_quoted(api, service_env):
    """Right to erasure: the timeline keeps kinds, times and keys (results, "my data" of nobody),
    not the person's post, its address, a bounce's diagnostic quoting the address, a clicked
    link's query or a purchase's note; a bounce on its way when the erasure lands brings none back."""
    created = api.post("/customers", json={"email": "ñandú@ejemplo.es", "first_name": "Ñandú"}).json
    ana = created["id"]
    bought = api.post(
        f"/customers/{ana}/purchases",
        json={
            "order_id": "A-1",
            "amount": 30,
            "currency": "EUR",
            "purchased_at": POSTED,
            "summary": "2 × zapatillas, envío a C/ Mayor 3, Ñandú Pérez 📦",
        },
    )
    assert bought.status_code in (200, 201), bought.json
    quoted = {
        "reason": "550 5.1.1 <ñandú@ejemplo.es>: user unknown",
        "url": "https://tienda.example/oferta?email=%C3%B1and%C3%BA%40ejemplo.es",
    }
    facts = batch_handlers()["segments.facts"]
    facts(
        events_of(ana)
        + [
            envelope_for(
                DeliveryClicked(
                    delivery_id="d1", campaign_id="c1", customer_id=ana, channel="email", url=quoted["url"]
                ),
                "mailer",
            ),
            envelope_for(
                DeliveryBounced(
                    delivery_id="d2",
                    campaign_id="c1",
                    customer_id=ana,
                    channel="email",
                    reason=quoted["reason"],
                ),
                "mailer",
            ),
        ]
    )
    before = {i.key: i for i in Interaction.objects(customer_id=ana)}
    assert before["delivery:d2:bounced"].data["reason"] == quoted["reason"]  # what the erasure must take

    assert api.delete(f"/customers/{ana}").status_code == 204
    late = DeliveryBounced(
        delivery_id="d3", campaign_id="c1", customer_id=ana, channel="email", reason=quoted["reason"]
    )
    with COMMANDS.counting() as seen:
        facts([envelope_for(late, "mailer")])
    assert seen[("find", "customers")] == 1  # the one question a quoting batch costs

    stored = list(Interaction._get_collection().find({"customer_id": ObjectId(ana)}))
    assert {row["key"] for row in stored} == set(before) | {"delivery:d3:bounced"}  # what happened stays
    shown = str(stored)
    for personal in ("No me gusta", "x.com/ana", "ñandú@", "%C3%B1and", "Mayor 3", "Pérez"):
        assert personal not in shown, personal
    by_key = {row["key"]: row for row in stored}
    assert by_key["consent:e1"]["summary"] == "email/newsletter: granted (api)"  # segments' own words
    assert by_key["purchase:A-1"]["amount"] and by_key["mention:x:p1"]["sentiment"] == -0.4
    assert by_key["delivery:d3:bounced"]["data"] == {"delivery_id": "d3"}

    # A batch that quotes nobody asks nothing more of the store (a bounce without a diagnostic).
    quiet = DeliveryBounced(delivery_id="d4", campaign_id="c1", customer_id=ana, channel="email")
    with COMMANDS.counting() as seen:
        facts([envelope_for(quiet, "mailer")])
    assert seen[("find", "customers")] == 0
