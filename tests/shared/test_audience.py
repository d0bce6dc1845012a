"""Resolving an audience from the store: ascending ids, batches, checkpoints."""

from __future__ import annotations

import datetime

from bson import json_util

from shared.audience import iter_audience, resolve
from shared.models import Customer, Segment, SegmentMember


def test_relative_time_placeholders_resolve_against_now():
    now = datetime.datetime(2026, 11, 22, 12, 0)
    compiled = {"created_at": {"$gte": {"__now__": -86400}}, "tags": ["a"]}
    assert resolve(compiled, now) == {
        "created_at": {"$gte": datetime.datetime(2026, 11, 21, 12, 0)},
        "tags": ["a"],
    }


def test_dynamic_audience_in_batches_resumes_after_a_checkpoint(mongo_uri):
    spanish = [Customer(email=f"es{i}@example.com", locale="es").save() for i in range(7)]
    Customer(email="en@example.com", locale="en").save()
    Customer(email="gone@example.com", locale="es", erased=True).save()
    segment = Segment(
        name="Hispanohablantes",
        kind="dynamic",
        rule={"field": "locale", "op": "eq", "value": "es"},
        compiled=json_util.dumps({"locale": "es"}),
    ).save()
    batches = list(iter_audience(segment, batch_size=3))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [i for b in batches for i in b] == sorted(c.id for c in spanish)
    resumed = [i for b in iter_audience(segment, after=batches[0][-1], batch_size=3) for i in b]
    assert resumed == sorted(c.id for c in spanish)[3:]


def test_static_audience_comes_from_its_member_list(mongo_uri):
    people = [Customer(email=f"s{i}@example.com").save() for i in range(3)]
    segment = Segment(name="Lista", kind="static").save()
    for person in people[:2]:
        SegmentMember(segment_id=segment.id, customer_id=person.id).save()
    assert [i for b in iter_audience(segment) for i in b] == sorted(p.id for p in people[:2])
