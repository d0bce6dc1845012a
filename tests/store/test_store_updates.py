"""Update operators, upserts and bulk writes as the services use them."""

from __future__ import annotations

import datetime

import pytest
from pymongo import InsertOne, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError

from tests.store.conftest import REF, T0, ns


def _one(coll, n):
    doc = coll.find_one({"n": n})
    doc.pop("_id")
    return doc


def test_set_unset_inc_min_max(coll):
    coll.update_one(
        {"n": 1},
        {
            "$set": {"emb.x": 42, "attrs.new key": 1, "when": T0, "ok": False},
            "$unset": {"s": ""},
            "$inc": {"i": 2, "f": 0.25, "cnt": 1},
            "$min": {"d": T0 - datetime.timedelta(days=9)},
            "$max": {"top": 3},
        },
    )
    doc = _one(coll, 1)
    assert "s" not in doc
    assert (doc["emb"], doc["attrs"]["new key"], doc["when"], doc["ok"]) == (
        {"x": 42, "y": "p"},
        1,
        T0,
        False,
    )
    assert (doc["i"], doc["f"], doc["cnt"], doc["top"]) == (7, 1.75, 1, 3)
    assert doc["d"] == T0 - datetime.timedelta(days=9)
    assert coll.update_one({"n": 1}, {"$max": {"top": 2}}).modified_count == 0
    assert coll.update_one({"n": 1}, {"$set": {"i": 7}}).modified_count == 0


def test_array_operators(coll):
    coll.update_one({"n": 1}, {"$push": {"tags": {"$each": ["p", "q"]}, "log": {"at": T0, "k": "x"}}})
    coll.update_one({"n": 1}, {"$addToSet": {"tags": {"$each": ["vip", "new"]}}})
    coll.update_one({"n": 1}, {"$pull": {"arr": {"v": {"$gte": 2}}}})
    doc = _one(coll, 1)
    assert doc["tags"] == ["vip", "a", "p", "q", "new"]
    assert doc["log"] == [{"at": T0, "k": "x"}], "embedded documents pushed as documents"
    assert doc["arr"] == [{"k": "a", "v": 1}]
    coll.update_one({"n": 1}, {"$pull": {"tags": {"$in": ["a", "p"]}}})
    assert _one(coll, 1)["tags"] == ["vip", "q", "new"]


def test_currentdate(coll):
    coll.update_one({"n": 1}, {"$currentDate": {"at": True}})
    at = coll.find_one({"n": 1})["at"]
    assert isinstance(at, datetime.datetime)
    assert abs(at - datetime.datetime.now(datetime.UTC).replace(tzinfo=None)) < datetime.timedelta(hours=1)


def test_upserts_build_the_document_from_the_filter(coll):
    key = {"customer_id": REF[7], "day": "2026-01-01"}
    first = coll.update_one(key, {"$inc": {"count": 1}, "$setOnInsert": {"at": T0}}, upsert=True)
    second = coll.update_one(
        key, {"$inc": {"count": 1}, "$setOnInsert": {"at": T0.replace(day=2)}}, upsert=True
    )
    assert first.upserted_id is not None and second.upserted_id is None and second.matched_count == 1
    docs = list(coll.find({"customer_id": REF[7]}, {"_id": 0}))
    assert docs == [{"customer_id": REF[7], "day": "2026-01-01", "count": 2, "at": T0}]
    coll.update_one({"n": 99, "stats.k": "a"}, {"$set": {"s": "x"}}, upsert=True)
    assert coll.find_one({"n": 99}, {"_id": 0}) == {"n": 99, "stats": {"k": "a"}, "s": "x"}


def test_find_one_and_update_before_after_and_upsert(coll):
    before = coll.find_one_and_update({"n": 1}, {"$inc": {"i": 1}})
    after = coll.find_one_and_update({"n": 1}, {"$inc": {"i": 1}}, return_document=ReturnDocument.AFTER)
    assert (before["i"], after["i"]) == (5, 7)
    claimed = coll.find_one_and_update(
        {"b": True, "claimed": {"$exists": False}},
        {"$set": {"claimed": True}},
        sort=[("d", 1)],
        return_document=ReturnDocument.AFTER,
    )
    assert claimed["n"] == 3
    made = coll.find_one_and_update(
        {"key": "k1"},
        {"$set": {"v": 1}, "$setOnInsert": {"created": T0}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert {k: v for k, v in made.items() if k != "_id"} == {"key": "k1", "v": 1, "created": T0}
    assert coll.find_one_and_update({"key": "k2"}, {"$set": {"v": 1}}, upsert=True) is None
    assert coll.count_documents({"key": "k2"}) == 1
    assert coll.find_one_and_update({"n": 3, "$or": [{"s": "apple"}, {"i": 5}]}, {"$set": {"x": 1}}) is None


def test_replace_delete_and_counts(coll):
    result = coll.update_many({"tags": "vip"}, {"$set": {"s": "apple"}})
    assert (result.matched_count, result.modified_count) == (3, 2)
    assert coll.replace_one({"n": 2}, {"n": 2, "r": T0}).modified_count == 1
    assert _one(coll, 2) == {"n": 2, "r": T0}
    assert coll.replace_one({"n": 98}, {"n": 98}, upsert=True).upserted_id is not None
    assert coll.find_one_and_delete({"b": True}, sort=[("i", -1)])["n"] == 6
    assert coll.delete_one({"tags": "vip"}).deleted_count == 1
    assert coll.count_documents({}) == 5


def test_insert_many_unordered_keeps_the_good_documents(coll):
    coll.create_index("n", unique=True)
    with pytest.raises(BulkWriteError) as caught:
        coll.insert_many([{"n": 10}, {"n": 1}, {"n": 11}, {"n": 10}, {"n": 12}], ordered=False)
    details = caught.value.details
    assert details["nInserted"] == 3
    assert sorted(e["index"] for e in details["writeErrors"]) == [1, 3]
    assert {e["code"] for e in details["writeErrors"]} == {11000}
    assert ns(coll, {"n": {"$gte": 10}}) == [10, 11, 12]


def test_bulk_write_mixes_upserts_and_inserts(coll):
    coll.create_index("n", unique=True)
    result = coll.bulk_write(
        [
            UpdateOne({"n": 50}, {"$set": {"s": "u"}, "$setOnInsert": {"c": 1}}, upsert=True),
            InsertOne({"n": 51}),
            UpdateOne({"n": 1}, {"$set": {"s": "u1"}}, upsert=True),
            UpdateOne({"n": 50}, {"$inc": {"c": 1}}, upsert=True),
        ]
    )
    assert (result.inserted_count, result.upserted_count, result.matched_count) == (1, 1, 2)
    assert coll.find_one({"n": 50})["c"] == 2 and coll.find_one({"n": 1})["s"] == "u1"


def test_conditional_update_by_id_with_or_and_exists(coll):
    """What segments' consent mirror sends: newer-or-missing guard on a dotted path."""
    target = coll.find_one({"n": 3})["_id"]
    guard = lambda at: {  # noqa: E731
        "_id": target,
        "$or": [
            {"facts.at.email": {"$lt": at}},
            {"facts.at.email": {"$exists": False}},
        ],
    }
    assert (
        coll.update_one(guard(T0), {"$set": {"consent.email": "granted", "facts.at.email": T0}}).matched_count
        == 1
    )
    assert coll.update_one(guard(T0), {"$set": {"consent.email": "revoked"}}).matched_count == 0
    later = T0 + datetime.timedelta(seconds=1)
    assert (
        coll.update_one(
            guard(later), {"$set": {"consent.email": "revoked", "facts.at.email": later}}
        ).matched_count
        == 1
    )
    assert coll.find_one({"n": 3})["consent"] == {"email": "revoked"}


def test_an_upsert_filtering_on_a_reference_and_a_time_range_updates_the_match(coll):
    """The 'forward only' consent state: upsert when newer, never a duplicate."""
    from bson import ObjectId

    coll = coll.database["upsert_forward"]
    coll.create_index([("ref", 1), ("topic", 1)], unique=True)
    ref = ObjectId()

    def record(status, at):
        coll.update_one(
            {"ref": ref, "topic": "news", "at": {"$lte": at}},
            {"$set": {"status": status, "at": at}},
            upsert=True,
        )

    record("granted", T0)
    record("revoked", T0 + datetime.timedelta(days=1))
    assert [(d["status"], d["ref"]) for d in coll.find({}, {"_id": 0})] == [("revoked", ref)]
