"""Across real processes and the real broker: the API publishes, the segments
worker process keeps membership fresh and announces segment.entered/left,
and runs import and recompute jobs."""

from __future__ import annotations

import io
import json

from shared.messaging.contracts import DeliveryOpened
from shared.messaging.publisher import Publisher
from shared.models import SegmentMember
from tests.support import drain, wait_consuming, wait_until

from services.segments.models import ImportJob, RecomputeJob
from tests.segments.test_segments_api import segment_events


def test_changes_cross_the_broker_to_segment_events(api, service_env):
    queue = segment_events(service_env)
    service_env.start("segments", "worker", VINCULO_SEGMENTS_JOB_POLL_SECONDS="0.2")
    wait_consuming(service_env.amqp_url, service_env.topology.name("segments.membership"))
    spain = api.post("/segments", json={"name": "Clientes en España",
                                        "rule": {"field": "country", "op": "eq", "value": "ES"}}).json
    opened = api.post("/segments", json={"name": "Abrieron camp-9",
                                         "rule": {"campaign": {"event": "opened", "campaign_id": "camp-9"}}}).json
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
        mailer.publish(DeliveryOpened(delivery_id="d-1", campaign_id="camp-9", customer_id=ana["id"],
                                      channel="email"))
    wait_until(lambda: saw(("segment.entered", opened["id"], ana["id"])), what="entered after an open")

    rows = "\n".join(["external_id,email,country"] + [f"x{i},x{i}@example.es,ES" for i in range(20)]) + "\n"
    job = api.post("/imports", data={"file": (io.BytesIO(rows.encode()), "lote.csv")},
                   content_type="multipart/form-data").json
    wait_until(lambda: ImportJob.objects(id=job["id"], status="done").first(), what="the import job")
    wait_until(lambda: SegmentMember.objects(segment_id=spain["id"]).count() == 20, what="imported members")
    wait_until(lambda: saw(None) or sum(1 for e in seen if e[0] == "segment.entered" and e[1] == spain["id"]) == 21,
               what="20 more segment.entered")
    assert len(seen) == len(set(seen)), "nothing announced twice"
