"""Query semantics the services rely on, through find, count, update and delete alike."""

from __future__ import annotations

import re

import pytest
from bson.regex import Regex

from tests.store.conftest import REF, T0, ns

# filter -> the documents (by n) MongoDB matches
CASES = [
    ({"s": "apple"}, [1]),
    # With a $ne (every audience filter has one) the conditions beside it are decided
    # exactly too: SQL alone took true for 1 and compared an object's JSON text with a string.
    ({"b": 1, "n": {"$ne": 0}}, []),
    ({"emb": {"$gt": "a"}, "n": {"$ne": 0}}, []),
    ({"s": {"$gt": "b"}}, [3, 6]),
    ({"i": {"$gte": 0, "$lt": 10}}, [1, 4, 5]),
    ({"f": {"$gt": 1, "$lte": 7}}, [1, 2, 4]),
    ({"b": True}, [1, 3, 6]),
    ({"b": False}, [2]),
    ({"d": {"$gte": T0, "$lt": T0.replace(day=2)}}, [1, 4]),
    ({"ref": REF[1]}, [1, 4]),
    ({"ref": {"$in": [REF[1], REF[3]]}}, [1, 4, 6]),
    ({"ref": {"$in": [REF[1], REF[3]]}, "d": {"$gte": T0}}, [1, 4, 6]),
    ({"$and": [{"ref": REF[1]}, {"d": {"$gt": T0}}]}, [4]),
    # null matches null and missing; negations match documents without the field
    ({"ref": None}, [3, 5]),
    ({"ref": {"$ne": None}}, [1, 2, 4, 6]),
    ({"b": None}, [4, 5]),
    ({"b": {"$ne": None}}, [1, 2, 3, 6]),
    ({"s": {"$ne": "apple"}}, [2, 3, 4, 5, 6]),
    ({"d": {"$ne": T0}}, [2, 3, 4, 5, 6]),
    ({"s": {"$nin": ["apple", "date"]}}, [2, 3, 4, 5]),
    ({"$nor": [{"i": 5}, {"s": "date"}]}, [2, 3, 4, 5]),
    ({"i": {"$not": {"$gt": 5}}}, [1, 3, 5]),
    ({"s": {"$not": re.compile("^a")}}, [2, 3, 5, 6]),
    ({"s": {"$exists": False}}, [5]),
    ({"nul": {"$exists": True}}, [1]),
    ({"attrs.seats": {"$exists": True}}, [1, 6]),
    # arrays: contains, negation over elements, size, all, elemMatch
    ({"tags": "vip"}, [1, 4, 5]),
    ({"tags": {"$ne": "vip"}}, [2, 3, 6]),
    ({"tags": {"$in": ["c", "x"]}}, [4, 6]),
    ({"tags": {"$nin": ["vip"]}}, [2, 3, 6]),
    ({"tags": {"$all": ["vip", "a"]}}, [1, 4]),
    ({"tags": {"$size": 0}}, [3]),
    ({"tags": {"$size": 2}}, [1, 6]),
    ({"tags": ["b"]}, [2]),
    ({"tags": {"$regex": "^v"}}, [1, 4, 5]),
    ({"arr": {"$elemMatch": {"k": "a", "v": {"$gte": 2}}}}, [2]),
    ({"arr.k": "b"}, [1]),
    # embedded documents and dict keys
    ({"emb.x": 1}, [1, 4]),
    ({"emb.y": {"$in": ["p", "s"]}}, [1, 6]),
    ({"attrs.plan": "pro"}, [1, 4]),
    ({"attrs.plan": {"$ne": "pro"}}, [2, 3, 5, 6]),
    ({"emb": {"x": 3}}, [3]),
    # regexes as mongoengine and hand-written code send them
    ({"s": {"$regex": "^b", "$options": "i"}}, [2]),
    ({"s": Regex("AN", "i")}, [2]),
    ({"s": {"$regex": "^APP", "$options": "i"}}, [1, 4]),
    ({"s": {"$regex": "^apple\\ p", "$options": "i"}}, [4]),
    ({"$or": [{"s": {"$regex": "^ch"}}, {"s": {"$regex": "^DA", "$options": "i"}}]}, [3, 6]),
    ({"s": {"$in": [re.compile("^ch"), "date"]}}, [3, 6]),
    # logic
    ({"b": True, "$or": [{"i": 5}, {"i": 100}]}, [1, 6]),
    ({"$or": [{"$and": [{"i": {"$gt": 0}}, {"b": True}]}, {"tags": "c"}]}, [1, 4, 6]),
    ({"$and": [{"$or": [{"i": 5}, {"i": 7}]}, {"$or": [{"s": "apple"}, {"b": None}]}]}, [1, 4]),
    ({"i": {"$gt": 0, "$ne": 7}}, [1, 2, 6]),
    # nested $and around exact-matching parts (how audience filters reach the store),
    # a field constrained twice, and an exact-matching filter that matches nothing
    ({"$and": [{"$and": [{"s": {"$ne": "apple"}}, {"b": True}]}, {"i": {"$gt": 0}}]}, [6]),
    ({"$and": [{"i": {"$gt": 0}}, {"i": {"$lt": 8}}, {"b": {"$ne": False}}]}, [1, 4]),
    ({"s": {"$ne": "apple"}, "i": 12345}, []),
    # $ne on scalars (answered in SQL alone): missing and null pass, arrays by element,
    # 7 equals 7.0, a boolean never equals a number, an object never equals a string
    ({"b": {"$ne": True}}, [2, 4, 5]),
    ({"i": {"$ne": 5}}, [2, 3, 4, 5, 6]),
    ({"f": {"$ne": 7}}, [1, 2, 3, 5, 6]),
    ({"b": {"$ne": 1}}, [1, 2, 3, 4, 5, 6]),
    ({"i": {"$ne": True}}, [1, 2, 3, 4, 5, 6]),
    ({"emb": {"$ne": "x"}}, [1, 2, 3, 4, 5, 6]),
    ({"$and": [{"tags": {"$ne": "vip"}}, {"$and": [{"b": {"$ne": False}}, {"i": {"$lt": 50}}]}]}, [3]),
    ({"$and": [{"s": {"$ne": "date"}}, {"$or": [{"i": 5}, {"i": 100}, {"i": 0}]}]}, [1, 5]),
]
IDS = [repr(query)[:60] for query, _ in CASES]


@pytest.mark.parametrize(("query", "expected"), CASES, ids=IDS)
def test_find_count_update_and_delete_agree(coll, query, expected):
    assert ns(coll, query) == expected
    assert coll.count_documents(query) == len(expected)
    assert sorted(d["n"] for d in coll.aggregate([{"$match": query}])) == expected
    assert coll.update_many(query, {"$set": {"hit": True}}).matched_count == len(expected)
    assert ns(coll, {"hit": True}) == expected
    for doc in coll.find({}, {"n": 1}):  # the claim shape: one document by _id, on a condition
        result = coll.update_one({"_id": doc["_id"], "$and": [query]}, {"$set": {"claimed": True}})
        assert result.matched_count == (doc["n"] in expected), doc["n"]
    assert coll.delete_many(query).deleted_count == len(expected)
    assert ns(coll, {}) == sorted(set(range(1, 7)) - set(expected))


def test_sort_skip_limit_projection_distinct(coll):
    order = lambda **kw: [d["n"] for d in coll.find({}, **kw)]  # noqa: E731
    assert order(sort=[("i", 1)]) == [3, 5, 1, 4, 2, 6]
    assert order(sort=[("i", -1)], skip=1, limit=2) == [2, 4]
    # missing and null sort first ascending, last descending
    assert order(sort=[("s", 1), ("n", 1)]) == [5, 2, 1, 4, 3, 6]
    assert order(sort=[("s", -1), ("n", 1)]) == [6, 3, 4, 1, 2, 5]
    assert order(sort=[("d", 1), ("n", 1)]) == [5, 3, 1, 4, 2, 6]
    assert order(sort=[("b", -1), ("i", -1)]) == [6, 1, 3, 2, 4, 5]
    assert coll.find_one({"n": 1}, {"s": 1, "_id": 0}) == {"s": "apple"}
    assert sorted(coll.find_one({"n": 3}, {"emb": 0, "arr": 0, "_id": 0})) == [
        "attrs",
        "b",
        "d",
        "f",
        "i",
        "n",
        "ref",
        "s",
        "tags",
    ]
    assert sorted(coll.distinct("tags")) == ["a", "b", "c", "vip", "x", "y"]
    assert sorted(coll.distinct("s", {"i": {"$gt": 5}})) == ["Banana", "apple pie", "date"]
    assert coll.count_documents({}, skip=1, limit=3) == 3
    assert coll.estimated_document_count() == 6


def test_pages_by_id_of_exact_matching_filters(coll):
    query = {"$and": [{"s": {"$ne": "apple"}}, {"i": {"$gte": 0}}]}  # n 2, 4, 5, 6
    in_order = [d["n"] for d in sorted(coll.find(query), key=lambda d: d["_id"])]
    assert sorted(in_order) == [2, 4, 5, 6]
    page = lambda **kw: [d["n"] for d in coll.find(query, **kw)]  # noqa: E731
    assert page(sort=[("_id", 1)], limit=2) == in_order[:2]
    assert page(sort=[("_id", 1)], skip=1, limit=2) == in_order[1:3]
    assert page(sort=[("_id", -1)], limit=3) == in_order[::-1][:3]
    assert page(sort=[("_id", 1)], limit=10) == in_order
    assert coll.find_one({"$and": [query, {"s": "none"}]}, sort=[("_id", 1)]) is None


def test_an_empty_id_list_finds_nothing(coll):
    assert list(coll.find({"_id": {"$in": []}})) == []
    assert coll.count_documents({"_id": {"$in": []}, "n": {"$gt": 0}}) == 0
    assert coll.update_many({"_id": {"$in": []}}, {"$set": {"x": 1}}).matched_count == 0


def test_counts_of_exact_matching_filters_honour_skip_and_limit(coll):
    query = {"$and": [{"tags": {"$ne": "vip"}}, {"n": {"$gt": 0}}]}  # n 2, 3, 6
    assert coll.count_documents(query) == 3
    assert coll.count_documents(query, skip=1) == 2
    assert coll.count_documents(query, limit=2) == 2
    assert coll.count_documents(query, skip=5) == 0
    assert coll.count_documents({"$and": [query, {"_id": coll.find_one({"n": 1})["_id"]}]}) == 0
    assert coll.count_documents({"$and": [query, {"_id": coll.find_one({"n": 2})["_id"]}]}) == 1


def test_values_round_trip_with_their_types(coll):
    doc = coll.find_one({"n": 2}, {"_id": 0})
    assert doc["d"] == T0.replace(day=2, microsecond=250000)
    assert doc["ref"] == REF[2] and doc["b"] is False and doc["f"] == 2.25
    coll.insert_one({"n": 9, "big": 2**40, "attrs": {"ciudad": "Bogotá"}})
    assert coll.find_one({"n": 9})["big"] == 2**40
    assert coll.count_documents({"attrs.ciudad": "Bogotá"}) == 1


def test_object_id_pagination_by_id(coll):
    ids = sorted(d["_id"] for d in coll.find())
    page = list(coll.find({"_id": {"$gt": ids[1]}}, sort=[("_id", 1)], limit=2))
    assert [d["_id"] for d in page] == ids[2:4]


def test_non_ascii_dict_keys_and_dates_in_lists(coll):
    coll.insert_one({"n": 9, "attrs": {"año": 2026, "ciudad": "Bogotá"}})
    assert coll.count_documents({"attrs.año": 2026}) == 1
    assert ns(coll, {"attrs.año": {"$gte": 2000}}) == [9]
    assert coll.count_documents({"d": {"$in": [T0, T0.replace(hour=15)]}}) == 2
    assert ns(coll, {"d": {"$nin": [T0]}}) == [2, 3, 4, 5, 6, 9]


def test_projection_of_dotted_paths(coll):
    assert coll.find_one({"n": 1}, {"emb.x": 1, "attrs.plan": 1, "_id": 0}) == {
        "emb": {"x": 1},
        "attrs": {"plan": "pro"},
    }
    doc = coll.find_one({"n": 1}, {"emb.y": 0, "attrs": 0, "arr": 0, "_id": 0})
    assert doc["emb"] == {"x": 1} and "attrs" not in doc
    assert coll.find_one({"n": 1}, {"arr.k": 1, "_id": 0}) == {"arr": [{"k": "a"}, {"k": "b"}]}


def test_an_object_id_inside_an_array_is_found_through_and(coll):
    """Inside $and (as the code writes it) and bare: the bare form {"refs": id} once missed it."""
    from bson import ObjectId

    coll = coll.database["refs_in_arrays"]
    wanted = ObjectId()
    coll.insert_many([{"refs": [wanted], "n": i} for i in range(3)] + [{"refs": [ObjectId()], "n": 9}])
    assert coll.count_documents({"$and": [{"refs": wanted}]}) == 3
    assert sorted(d["n"] for d in coll.find({"refs": wanted})) == [0, 1, 2]
    assert sorted(d["n"] for d in coll.find({"$and": [{"refs": wanted}]})) == [0, 1, 2]
    # with other conditions, and paged by _id from a cursor (the mentions inbox)
    page = list(coll.find({"$and": [{"refs": wanted}, {"n": {"$gte": 0}}]}).sort("_id", -1).limit(2))
    assert [d["n"] for d in page] == [2, 1]
    after = {"$and": [{"refs": wanted}, {"_id": {"$lt": page[-1]["_id"]}}]}
    assert [d["n"] for d in coll.find(after).sort("_id", -1).limit(2)] == [0]
    assert coll.count_documents({"$and": [{"refs": {"$in": [wanted, ObjectId()]}}, {"n": {"$ne": 1}}]}) == 2
