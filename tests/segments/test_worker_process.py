"""Across real processes and the real broker: the API publishes, the segments
worker process keeps membership fresh and announces segment.entered/left,
and runs import and recompute jobs."""

from __future__ import annotations

import io
import json

from services.segments.models import ImportJob, RecomputeJob
from shared.messaging.contracts import DeliveryOpened
from shared.messaging.publisher import Publisher
from shared.models import SegmentMember
from tests.segments.test_segments_api import segment_events
from tests.support import drain, wait_consuming, wait_until


def test_changes_cross_the_broker_to_segment_events(api, service_env):
    queue = segment_events(service_env)
    service_env.start("segments", "worker", VINCULO_SEGMENTS_JOB_POLL_SECONDS="0.2")
    wait_consuming(service_env.amqp_url, service_env.topology.name("segments.membership"))
    spain = api.post(
        "/segments",
        json={"name": "Clientes en España", "rule": {"field": "country", "op": "eq", "value": "ES"}},
    ).json
    opened = api.post(
        "/segments",
        json={"name": "Abrieron camp-9", "rule": {"campaign": {"event": "opened", "campaign_id": "camp-9"}}},
    ).json
    wait_until(lambda: RecomputeJob.objects(status="done").count() == 2, what="the first fillings")
    seen: list[tuple[str, str, str]] = []

    def saw(expected):
        for message in drain(service_env.amqp_url, queue):
            body = json.loads(message.body)
            seen.append((body["type"], body["payload"]["segment_id"], body["payload"]["customer_id"]))
        return expected in seen

    ana = api.post("/customers", json={"email": "ana@example.es", "first_name": "Ana", "country": "ES"}).json
    wait_until(lambda: saw(("segment.entered", spain["id"], ana["id"])), what="segment.entered")
    api.patch(f"/customers/{ana['id']}", json={"country": "MX"})
    wait_until(lambda: saw(("segment.left", spain["id"], ana["id"])), what="segment.left")

    mailer = Publisher(service_env.amqp_url, service_env.topology, "mailer")
    for _ in range(2):  # a redelivered fact: one entry
        mailer.publish(
            DeliveryOpened(delivery_id="d-1", campaign_id="camp-9", customer_id=ana["id"], channel="email")
        )
    wait_until(lambda: saw(("segment.entered", opened["id"], ana["id"])), what="entered after an open")

    rows = "\n".join(["external_id,email,country"] + [f"x{i},x{i}@example.es,ES" for i in range(20)]) + "\n"
    job = api.post(
        "/imports", data={"file": (io.BytesIO(rows.encode()), "lote.csv")}, content_type="multipart/form-data"
    ).json
    wait_until(lambda: ImportJob.objects(id=job["id"], status="done").first(), what="the import job")
    wait_until(lambda: SegmentMember.objects(segment_id=spain["id"]).count() == 20, what="imported members")
    wait_until(
        lambda: saw(None) or sum(1 for e in seen if e[0] == "segment.entered" and e[1] == spain["id"]) == 21,
        what="20 more segment.entered",
    )
    assert len(seen) == len(set(seen)), "nothing announced twice"


def test_a_stream_of_profile_changes_enters_everyone_once_and_agrees_with_a_recompute(
    api, settings, parts, service_env
):
    """Many segments.membership events at once: the worker takes them in
    batches; a duplicate and a poison message among them change nothing."""
    from bson import ObjectId

    from services.segments.membership import Membership
    from shared.messaging.consumer import ProcessedMessage
    from shared.messaging.contracts import CustomerCreated, CustomerUpdated, envelope_for
    from shared.models import Customer, Segment
    from tests.segments.test_segments_api import run_jobs, taken

    queue = segment_events(service_env)
    spain = api.post(
        "/segments", json={"name": "España", "rule": {"field": "country", "op": "eq", "value": "ES"}}
    ).json["id"]
    vip_es = api.post(
        "/segments",
        json={
            "name": "VIP España",
            "rule": {
                "all": [
                    {"field": "country", "op": "eq", "value": "ES"},
                    {"field": "tags", "op": "eq", "value": "vip"},
                ]
            },
        },
    ).json["id"]
    run_jobs(settings)  # the first (empty) fillings
    people = Customer.objects.insert(
        [
            Customer(
                email=f"s{i}@example.es",
                country="MX" if i % 5 == 0 else "ES",
                tags=["vip"] if i % 3 == 0 else [],
            )
            for i in range(300)
        ]
    )
    ids = [str(person.id) for person in people]

    service_env.start("segments", "worker")
    membership_queue = service_env.topology.name("segments.membership")
    wait_consuming(service_env.amqp_url, membership_queue)
    publisher = Publisher(service_env.amqp_url, service_env.topology, "segments")
    created = [envelope_for(CustomerCreated(customer_id=cid), "segments") for cid in ids]
    for envelope in created[:150]:
        publisher.publish_envelope(envelope)
    publisher.publish(CustomerCreated(customer_id="not-an-id"))
    for envelope in created[150:] + created[:30]:  # 30 redelivered copies
        publisher.publish_envelope(envelope)
    moved = [ObjectId(cid) for i, cid in enumerate(ids) if i % 5 == 0]
    Customer.objects(id__in=moved).update(set__country="ES")
    for cid in moved:
        publisher.publish(CustomerUpdated(customer_id=str(cid), changed=["country"]))

    wait_until(
        lambda: ProcessedMessage.objects(consumer=membership_queue).count() == 300 + len(moved),
        timeout=120,
        what="every membership event handled",
    )
    letters = wait_until(
        lambda: drain(service_env.amqp_url, f"{membership_queue}.dlq"), what="the poison one"
    )
    assert [m.headers["x-vinculo-reason"] for m in letters] == [
        "poison: customer_id 'not-an-id' is not a customer id"
    ]

    expected = sorted(
        [("segment.entered", spain, cid) for cid in ids]
        + [("segment.entered", vip_es, cid) for i, cid in enumerate(ids) if i % 3 == 0]
    )
    seen: list = []
    wait_until(
        lambda: seen.extend(taken(service_env, queue)) or len(seen) >= len(expected),
        what="the segment events",
    )
    assert sorted(seen) == expected, "each customer entered each segment exactly once"

    quiet = Membership(parts, announce=False)
    for sid, members in ((spain, 300), (vip_es, 100)):
        stats = quiet.recompute(Segment.objects.get(id=sid))
        assert (stats["entered"], stats["left"], stats["members"]) == (0, 0, members)


def test_a_burst_of_facts_with_a_poison_one_enters_everyone_once(api, settings, parts, service_env):
    """delivery.opened for many customers at once (each open twice, and one
    for nobody among them): facts stored, one segment.entered each, the
    poison one dead-lettered, and a recompute finds nothing to change."""
    from bson import ObjectId

    from services.segments.membership import Membership
    from shared.messaging.consumer import ProcessedMessage
    from shared.models import Customer, Segment
    from tests.segments.test_segments_api import run_jobs, taken

    queue = segment_events(service_env)
    opened = api.post(
        "/segments",
        json={"name": "Abrieron camp-7", "rule": {"campaign": {"event": "opened", "campaign_id": "camp-7"}}},
    ).json["id"]
    run_jobs(settings)
    people = Customer.objects.insert([Customer(email=f"f{i}@example.es") for i in range(120)])
    ids = [str(person.id) for person in people]

    service_env.start("segments", "worker")
    facts_queue = service_env.topology.name("segments.facts")
    wait_consuming(service_env.amqp_url, facts_queue)
    mailer = Publisher(service_env.amqp_url, service_env.topology, "mailer")
    for round_ in range(2):
        for i, cid in enumerate(ids):
            if round_ == 0 and i == 50:
                mailer.publish(
                    DeliveryOpened(
                        delivery_id="d-ghost",
                        campaign_id="camp-7",
                        customer_id=str(ObjectId()),
                        channel="email",
                    )
                )
            mailer.publish(
                DeliveryOpened(delivery_id=f"d-{i}", campaign_id="camp-7", customer_id=cid, channel="email")
            )

    wait_until(
        lambda: ProcessedMessage.objects(consumer=facts_queue).count() == 2 * len(ids),
        timeout=120,
        what="every fact handled",
    )
    letters = wait_until(lambda: drain(service_env.amqp_url, f"{facts_queue}.dlq"), what="the poison one")
    assert len(letters) == 1 and letters[0].headers["x-vinculo-reason"].startswith("poison: unknown customer")
    assert Customer.objects(id__in=[p.id for p in people], facts__opened="camp-7").count() == len(ids)

    expected = sorted(("segment.entered", opened, cid) for cid in ids)
    seen: list = []
    wait_until(
        lambda: seen.extend(taken(service_env, queue)) or len(seen) >= len(expected),
        what="the segment events",
    )
    assert sorted(seen) == expected, "each customer entered once"
    stats = Membership(parts, announce=False).recompute(Segment.objects.get(id=opened))
    assert (stats["entered"], stats["left"], stats["members"]) == (0, 0, len(ids))
