"""Pins every store behaviour the code relies on. Runs against the stand-in
by default and unchanged against real MongoDB with VINCULO_TEST_MONGO_URI."""

from __future__ import annotations

import datetime
import multiprocessing

import mongoengine as me
import pytest
from pymongo import ReturnDocument

from shared import store
from shared.models import ConsentState, Customer


class ContractJob(me.Document):
    n = me.IntField()
    state = me.StringField(default="ready")
    owner = me.StringField()
    meta = {"collection": "contract_jobs", "indexes": ["state"]}


def test_unique_index_raises_not_unique_and_allows_many_missing(mongo_uri):
    Customer(email="ana@example.com").save()
    with pytest.raises(me.NotUniqueError):
        Customer(email="ANA@example.com ").save()
    Customer(first_name="Sin correo").save()
    Customer(first_name="Tampoco").save()
    assert Customer.objects(email=None).count() == 2


def test_compound_unique_index(mongo_uri):
    from bson import ObjectId

    cid = ObjectId()
    now = store.utcnow()
    ConsentState(customer_id=cid, channel="email", topic="newsletter", status="granted", at=now).save()
    with pytest.raises(me.NotUniqueError):
        ConsentState(customer_id=cid, channel="email", topic="newsletter", status="denied", at=now).save()


def test_booleans_and_datetimes_round_trip_through_updates(mongo_uri):
    customer = Customer(email="b@example.com").save()
    when = datetime.datetime(2026, 3, 29, 1, 30, 15, 123000)
    Customer.objects(id=customer.id).update_one(set__erased=True, set__purchases__last_at=when)
    raw = Customer._get_collection().find_one({"_id": customer.id})
    assert raw["erased"] is True
    assert raw["purchases"]["last_at"] == when
    assert Customer.objects(erased=True).count() == 1
    assert Customer.objects(purchases__last_at__gt=when - datetime.timedelta(seconds=1)).count() == 1
    assert Customer.objects(purchases__last_at__gt=when).count() == 0


def test_regex_queries_as_mongoengine_sends_them(mongo_uri):
    Customer(first_name="Íñigo", last_name="Núñez", email="inigo@example.com").save()
    Customer(first_name="Noah", last_name="Smith", email="noah@example.com").save()
    assert [c.email for c in Customer.objects(name_key__startswith="inigo n")] == ["inigo@example.com"]
    assert [c.email for c in Customer.objects(last_name__icontains="ÑEZ")] == ["inigo@example.com"]
    assert Customer.objects(email__iexact="NOAH@example.com").count() == 1


def test_aggregation_stages_used(mongo_uri):
    coll = ContractJob._get_collection()
    coll.insert_many(
        [{"n": i, "state": "ready" if i % 3 else "done", "owner": f"o{i % 2}"} for i in range(30)]
    )
    rows = list(
        coll.aggregate(
            [
                {"$match": {"n": {"$gte": 0}}},
                {"$group": {"_id": "$state", "count": {"$sum": 1}, "total": {"$sum": "$n"}}},
                {"$sort": {"_id": 1}},
            ]
        )
    )
    assert rows == [
        {"_id": "done", "count": 10, "total": sum(range(0, 30, 3))},
        {"_id": "ready", "count": 20, "total": sum(i for i in range(30) if i % 3)},
    ]
    assert list(coll.aggregate([{"$match": {"state": "done"}}, {"$count": "n"}])) == [{"n": 10}]


def _claim_all(uri: str, owner: str, queue) -> None:
    from pymongo import MongoClient

    client = MongoClient(uri)
    coll = client[store.database_name(uri)]["contract_jobs"]
    claimed = []
    while True:
        doc = coll.find_one_and_update(
            {"state": "ready"},
            {"$set": {"state": "taken", "owner": owner}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            break
        claimed.append(doc["n"])
    queue.put(claimed)
    client.close()


def test_conditional_update_claims_are_atomic_across_processes(mongo_uri):
    ContractJob._get_collection().insert_many([{"n": i, "state": "ready"} for i in range(400)])
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_claim_all, args=(mongo_uri, f"w{i}", queue)) for i in range(4)]
    for worker in workers:
        worker.start()
    claimed = [n for _ in workers for n in queue.get(timeout=120)]
    for worker in workers:
        worker.join(30)
    assert sorted(claimed) == list(range(400)), "every job claimed exactly once"
    assert ContractJob.objects(state="ready").count() == 0


def test_update_one_with_condition_reports_matched_count(mongo_uri):
    job = ContractJob(n=1, state="scheduled").save()
    first = ContractJob._get_collection().update_one(
        {"_id": job.id, "state": "scheduled"}, {"$set": {"state": "sending"}}
    )
    second = ContractJob._get_collection().update_one(
        {"_id": job.id, "state": "scheduled"}, {"$set": {"state": "sending"}}
    )
    assert (first.modified_count, second.matched_count) == (1, 0)


def test_a_conditional_update_mixing_fields_and_or_touches_only_matching_documents(mongo_uri):
    coll = ContractJob._get_collection()
    coll.insert_many([{"n": 1, "state": "a"}, {"n": 2, "state": "b"}])
    missed = coll.update_one(
        {"n": 3, "$or": [{"state": "b"}, {"owner": {"$exists": False}}]}, {"$set": {"owner": "x"}}
    )
    hit = coll.update_one(
        {"n": 2, "$or": [{"state": "z"}, {"owner": {"$exists": False}}]}, {"$set": {"owner": "y"}}
    )
    assert (missed.matched_count, hit.matched_count) == (0, 1)
    assert sorted((d["n"], d.get("owner")) for d in coll.find()) == [(1, None), (2, "y")]
    assert coll.delete_many({"n": 1, "$or": [{"state": "b"}]}).deleted_count == 0


def test_datetime_comparisons_keep_milliseconds(mongo_uri):
    coll = ContractJob._get_collection()
    early = datetime.datetime(2026, 1, 1, 10, 0, 0, 100000)
    late = datetime.datetime(2026, 1, 1, 10, 0, 0, 500000)
    coll.insert_one({"n": 1, "at": early, "nested": {"at": early}})
    assert coll.count_documents({"at": {"$lt": late}}) == 1
    assert len(list(coll.find({"at": {"$lt": late}}))) == 1
    assert len(list(coll.find({"nested.at": {"$gt": early}}))) == 0
    assert len(list(coll.find({"at": {"$gte": early, "$lte": early}}))) == 1


def test_counts_and_aggregations_match_on_object_ids(mongo_uri):
    coll = ContractJob._get_collection()
    first = coll.insert_one({"n": 1}).inserted_id
    coll.insert_one({"n": 2})
    assert coll.count_documents({"_id": first}) == 1
    assert coll.count_documents({"_id": first, "n": 1}) == 1
    assert coll.count_documents({"_id": {"$in": [first]}, "n": {"$lt": 5}}) == 1
    assert [d["n"] for d in coll.aggregate([{"$match": {"_id": first}}])] == [1]


def test_equality_on_object_id_references(mongo_uri):
    from bson import ObjectId

    coll = ContractJob._get_collection()
    ref, other = ObjectId(), ObjectId()
    coll.insert_many([{"n": 1, "ref": ref}, {"n": 2, "ref": other}, {"n": 3, "ref": None}])
    assert [d["n"] for d in coll.find({"ref": ref})] == [1]
    assert [d["n"] for d in coll.find({"ref": {"$eq": ref}})] == [1]
    assert sorted(d["n"] for d in coll.find({"ref": {"$ne": ref}})) == [2, 3]
    assert coll.count_documents({"ref": ref}) == 1
    assert coll.update_one({"ref": ref}, {"$set": {"seen": True}}).matched_count == 1
    assert coll.find_one({"n": 1})["ref"] == ref, "documents keep their ObjectIds"
    assert coll.find_one_and_update({"ref": other}, {"$set": {"n": 20}}, return_document=True)["n"] == 20
    assert coll.delete_one({"ref": other}).deleted_count == 1
    assert [d["n"] for d in coll.aggregate([{"$match": {"ref": ref}}])] == [1]
