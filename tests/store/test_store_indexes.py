"""Unique indexes as the idempotency keys rely on them; TTL indexes declared."""

from __future__ import annotations

import pytest
from pymongo.errors import DuplicateKeyError

from shared import store
from tests.store.conftest import REF, T0, ns


def _tries(coll, docs):
    out = []
    for doc in docs:
        try:
            coll.insert_one(dict(doc))
            out.append("ok")
        except DuplicateKeyError as exc:
            assert exc.code == 11000
            out.append("dup")
    return out


def test_unique_index_on_insert_update_and_replace(coll):
    coll.create_index("s", unique=True, sparse=True)
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"s": "apple"})
    with pytest.raises(DuplicateKeyError):
        coll.update_one({"n": 2}, {"$set": {"s": "apple"}})
    with pytest.raises(DuplicateKeyError):
        coll.replace_one({"n": 2}, {"n": 2, "s": "apple"})
    assert coll.find_one({"n": 2})["s"] == "Banana"


def test_unique_index_on_upsert(mongo_uri):
    coll = store.db()["contract_keys"]
    coll.create_index("k", unique=True)
    coll.insert_one({"k": "a", "n": 100})
    with pytest.raises(DuplicateKeyError):
        coll.update_one({"k": "b", "n": 101}, {"$set": {"k": "a"}}, upsert=True)
    assert coll.count_documents({}) == 1


def test_compound_unique_with_object_ids_and_dates(mongo_uri):
    coll = store.db()["contract_compound"]
    coll.create_index([("cid", 1), ("day", 1), ("ch", 1)], unique=True)
    assert _tries(
        coll,
        [
            {"cid": REF[1], "day": T0, "ch": "email"},
            {"cid": REF[1], "day": T0, "ch": "email"},
            {"cid": REF[2], "day": T0, "ch": "email"},
            {"cid": REF[1], "day": T0, "ch": "sms"},
        ],
    ) == ["ok", "dup", "ok", "ok"]


def test_sparse_unique_allows_many_missing(mongo_uri):
    coll = store.db()["contract_sparse"]
    coll.create_index("e", unique=True, sparse=True)
    assert _tries(coll, [{"n": 1}, {"n": 2}, {"e": "x"}, {"e": "x"}]) == ["ok", "ok", "ok", "dup"]


def test_ttl_index_is_declared(mongo_uri):
    coll = store.db()["contract_ttl"]
    coll.create_index("at", expireAfterSeconds=3600)
    ttl = [info for info in coll.index_information().values() if "expireAfterSeconds" in info]
    assert [(info["key"], info["expireAfterSeconds"]) for info in ttl] == [([("at", 1)], 3600)]


def test_ttl_purges_expired_documents_when_the_collection_is_used(mongo_uri):
    import datetime

    coll = store.db()["contract_ttl_purge"]
    coll.create_index("at", expireAfterSeconds=3600)
    now = store.utcnow()
    coll.insert_many([{"n": 1, "at": now - datetime.timedelta(hours=2)}, {"n": 2, "at": now}])
    assert [d["n"] for d in coll.find({}, {"n": 1})] == [2]


def test_unique_violation_of_find_one_and_update_raises(coll):
    coll.create_index("s", unique=True, sparse=True)
    with pytest.raises(DuplicateKeyError):
        coll.find_one_and_update({"n": 2}, {"$set": {"s": "apple", "flag": True}})
    assert coll.find_one({"n": 2})["s"] == "Banana"


def test_non_sparse_unique_counts_missing_as_null(mongo_uri):
    single = store.db()["contract_plain_unique"]
    single.create_index("k", unique=True)
    assert _tries(single, [{"n": 1}, {"n": 2}, {"k": None}, {"k": "a"}]) == ["ok", "dup", "dup", "ok"]
    compound = store.db()["contract_compound_missing"]
    compound.create_index([("a", 1), ("b", 1)], unique=True)
    assert _tries(compound, [{"a": 1, "b": 1}, {"a": 1}, {"a": 1}, {"a": 1, "b": None}, {"b": 5}]) == [
        "ok",
        "ok",
        "dup",
        "dup",
        "ok",
    ]


def test_equality_on_indexed_fields_still_matches_array_elements(coll):
    coll.create_index("tags")
    coll.create_index("attrs.plan")
    assert ns(coll, {"tags": "vip"}) == [1, 4, 5]
    assert coll.count_documents({"tags": "vip"}) == 3
    assert coll.find_one_and_update({"tags": "c"}, {"$set": {"hit": True}})["n"] == 4
    assert ns(coll, {"attrs.plan": "pro"}) == [1, 4]


def test_in_on_indexed_fields_matches_scalars_array_elements_and_references(coll):
    coll.create_index("tags")
    coll.create_index("ref")
    coll.create_index("s")
    assert ns(coll, {"tags": {"$in": ["vip", "y"]}}) == [1, 4, 5, 6]
    assert coll.count_documents({"tags": {"$in": ["b", "c"]}}) == 2
    assert ns(coll, {"ref": {"$in": [REF[1], REF[3]]}}) == [1, 4, 6]
    assert ns(coll, {"s": {"$in": ["apple", "date"]}, "i": {"$gt": 5}}) == [6]
