"""segment.entered / segment.left survive a crash between the member row's
write and the publish: the announcement record written first is swept later
and the changes that happened are announced with the same message ids."""

from __future__ import annotations

import datetime
import json

from bson import ObjectId

from services.segments.membership import Membership, message_id_for, pending_collection
from shared.models import Customer, Segment, SegmentMember
from shared.store import utcnow
from tests.segments.test_segments_api import add, segment_events
from tests.support import drain


def announced(service_env, queue) -> list[tuple[str, str, str, str]]:
    out = []
    for message in drain(service_env.amqp_url, queue, limit=1000):
        body = json.loads(message.body)
        out.append(
            (body["type"], body["payload"]["segment_id"], body["payload"]["customer_id"], body["message_id"])
        )
    return sorted(out)


def test_a_change_is_announced_with_its_record_id_and_leaves_no_record(api, settings, parts, service_env):
    queue = segment_events(service_env)
    segment = Segment.objects.get(
        id=api.post(
            "/segments", json={"name": "España", "rule": {"field": "country", "op": "eq", "value": "ES"}}
        ).json["id"]
    )
    cid = ObjectId(add(api, email="ana@example.es", country="ES"))  # no worker runs: not a member yet

    assert Membership(parts).evaluate([cid]) == {"entered": 1, "left": 0}
    row = SegmentMember._get_collection().find_one({"segment_id": segment.id, "customer_id": cid})
    assert announced(service_env, queue) == [
        ("segment.entered", str(segment.id), str(cid), message_id_for(row["via"], segment.id, cid, "entered"))
    ]
    assert pending_collection().count_documents({}) == 0


def test_the_sweep_announces_what_a_crash_left_unannounced_and_only_that(settings, parts, service_env):
    queue = segment_events(service_env)
    segment = ObjectId()
    entered, never_written, left, never_deleted = (
        Customer(email=f"p{i}@example.es").save().id for i in range(4)
    )
    # What a worker killed after its writes and before its publish leaves behind: the record
    # (written first), the row it inserted (carrying the record's id) and the row it deleted (gone).
    record = ObjectId()
    pending_collection().insert_one(
        {
            "_id": record,
            "kind": "segment.membership",
            "at": utcnow() - datetime.timedelta(minutes=5),
            "changes": [
                {"segment_id": segment, "customer_id": entered, "kind": "entered"},
                {
                    "segment_id": segment,
                    "customer_id": never_written,
                    "kind": "entered",
                },  # killed before this insert
                {"segment_id": segment, "customer_id": left, "kind": "left"},
                {
                    "segment_id": segment,
                    "customer_id": never_deleted,
                    "kind": "left",
                },  # killed before this delete
            ],
        }
    )
    members = SegmentMember._get_collection()
    members.insert_many(
        [
            {"segment_id": segment, "customer_id": entered, "since": utcnow(), "via": record},
            {
                "segment_id": segment,
                "customer_id": never_written,
                "since": utcnow(),
                "via": ObjectId(),
            },  # another change's row
            {"segment_id": segment, "customer_id": never_deleted, "since": utcnow()},
        ]
    )
    fresh = ObjectId()  # a change being written right now is not the sweep's
    pending_collection().insert_one(
        {
            "_id": fresh,
            "kind": "segment.membership",
            "at": utcnow(),
            "changes": [{"segment_id": segment, "customer_id": never_deleted, "kind": "left"}],
        }
    )

    assert Membership(parts).sweep() == 2
    assert announced(service_env, queue) == sorted(
        [
            (
                "segment.entered",
                str(segment),
                str(entered),
                message_id_for(record, segment, entered, "entered"),
            ),
            ("segment.left", str(segment), str(left), message_id_for(record, segment, left, "left")),
        ]
    )
    assert [doc["_id"] for doc in pending_collection().find()] == [fresh]
    assert Membership(parts).sweep() == 0
