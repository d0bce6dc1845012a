"""Aggregation stages the services use (reports, daily counts, joins)."""

from __future__ import annotations

import datetime

from tests.store.conftest import REF, T0


def test_group_accumulators_keep_value_types(coll):
    rows = list(
        coll.aggregate(
            [
                {
                    "$group": {
                        "_id": None,
                        "c": {"$sum": 1},
                        "mn": {"$min": "$i"},
                        "mx": {"$max": "$d"},
                        "t": {"$sum": "$i"},
                    }
                }
            ]
        )
    )
    assert rows == [{"_id": None, "c": 6, "mn": -3, "mx": T0 + datetime.timedelta(days=30), "t": 119}]
    by_ref = list(
        coll.aggregate(
            [
                {"$match": {"ref": {"$ne": None}}},
                {"$group": {"_id": "$ref", "c": {"$sum": 1}}},
                {"$sort": {"c": -1, "_id": 1}},
            ]
        )
    )
    assert by_ref == [{"_id": REF[1], "c": 2}, {"_id": REF[2], "c": 1}, {"_id": REF[3], "c": 1}]


def test_group_first_push_add_to_set(coll):
    rows = list(
        coll.aggregate(
            [
                {"$match": {"attrs.plan": {"$in": ["pro", "free"]}}},
                {"$sort": {"n": 1}},
                {
                    "$group": {
                        "_id": "$attrs.plan",
                        "first": {"$first": "$n"},
                        "all": {"$push": "$n"},
                        "set": {"$addToSet": "$emb.x"},
                        "avg": {"$avg": "$i"},
                    }
                },
                {"$sort": {"_id": 1}},
            ]
        )
    )
    assert rows == [
        {"_id": "free", "first": 2, "all": [2], "set": [2], "avg": 10},
        {"_id": "pro", "first": 1, "all": [1, 4], "set": [1], "avg": 6},
    ]


def test_daily_counts_by_compound_key(coll):
    rows = list(
        coll.aggregate(
            [
                {"$match": {"d": {"$exists": True}}},
                {
                    "$group": {
                        "_id": {
                            "day": {"$dateToString": {"format": "%Y-%m-%d", "date": "$d"}},
                            "plan": "$attrs.plan",
                        },
                        "c": {"$sum": 1},
                    }
                },
                {"$sort": {"_id.day": 1}},
            ]
        )
    )
    assert rows == [
        {"_id": {"day": "2025-12-30"}, "c": 1},
        {"_id": {"day": "2026-01-01", "plan": "pro"}, "c": 2},
        {"_id": {"day": "2026-01-02", "plan": "free"}, "c": 1},
        {"_id": {"day": "2026-01-31", "plan": "enterprise"}, "c": 1},
    ]
    trunc = list(
        coll.aggregate(
            [
                {"$match": {"d": {"$exists": True}}},
                {"$group": {"_id": {"$dateTrunc": {"date": "$d", "unit": "day"}}, "c": {"$sum": 1}}},
                {"$sort": {"_id": 1}},
            ]
        )
    )
    assert trunc[1] == {"_id": datetime.datetime(2026, 1, 1), "c": 2}


def test_stages_in_order(coll):
    top = list(
        coll.aggregate(
            [{"$sort": {"n": 1}}, {"$limit": 3}, {"$sort": {"n": -1}}, {"$project": {"_id": 0, "n": 1}}]
        )
    )
    assert top == [{"n": 3}, {"n": 2}, {"n": 1}]
    assert list(coll.aggregate([{"$match": {"tags": "vip"}}, {"$count": "total"}])) == [{"total": 3}]
    assert list(coll.aggregate([{"$match": {"n": 99}}, {"$count": "total"}])) == []
    unwound = list(
        coll.aggregate(
            [
                {"$match": {"n": {"$in": [1, 4]}}},
                {"$unwind": "$tags"},
                {"$group": {"_id": "$tags", "c": {"$sum": 1}}},
                {"$sort": {"_id": 1}},
            ]
        )
    )
    assert unwound == [{"_id": "a", "c": 2}, {"_id": "c", "c": 1}, {"_id": "vip", "c": 2}]
    facet = list(
        coll.aggregate(
            [
                {
                    "$facet": {
                        "total": [{"$count": "n"}],
                        "top": [{"$sort": {"i": -1}}, {"$limit": 2}, {"$project": {"_id": 0, "n": 1}}],
                    }
                }
            ]
        )
    )
    assert facet == [{"total": [{"n": 6}], "top": [{"n": 6}, {"n": 2}]}]
    shaped = list(
        coll.aggregate(
            [
                {"$match": {"n": {"$lte": 2}}},
                {
                    "$addFields": {
                        "big": {"$gt": ["$i", 6]},
                        "pro": {"$cond": [{"$eq": ["$attrs.plan", "pro"]}, 1, 0]},
                    }
                },
                {"$project": {"_id": 0, "n": 1, "big": 1, "pro": 1, "twice": {"$multiply": ["$i", 2]}}},
                {"$sort": {"n": 1}},
            ]
        )
    )
    assert shaped == [
        {"n": 1, "big": False, "pro": 1, "twice": 10},
        {"n": 2, "big": True, "pro": 0, "twice": 20},
    ]


def test_lookup_by_local_and_foreign_field(coll):
    orders = coll.database["contract_orders"]
    orders.insert_many(
        [
            {"customer_id": REF[1], "amt": 10},
            {"customer_id": REF[1], "amt": 5},
            {"customer_id": REF[3], "amt": 7},
        ]
    )
    rows = list(
        coll.aggregate(
            [
                {"$match": {"ref": {"$ne": None}}},
                {
                    "$lookup": {
                        "from": "contract_orders",
                        "localField": "ref",
                        "foreignField": "customer_id",
                        "as": "orders",
                    }
                },
                {"$sort": {"n": 1}},
            ]
        )
    )
    assert [(r["n"], sorted(o["amt"] for o in r["orders"])) for r in rows] == [
        (1, [5, 10]),
        (2, []),
        (4, [5, 10]),
        (6, [7]),
    ]


def test_avg_and_sum_ignore_missing_and_non_numbers(coll):
    coll.insert_one({"n": 7, "attrs": {"seats": "many"}})
    rows = list(
        coll.aggregate(
            [{"$group": {"_id": None, "t": {"$sum": "$attrs.seats"}, "a": {"$avg": "$attrs.seats"}}}]
        )
    )
    assert rows == [{"_id": None, "t": 53, "a": 26.5}]


def test_a_first_match_selects_and_root_stays_the_stored_document(coll):
    """The first $match selects the documents (plain, exact-matching and ObjectId
    shapes alike); $$ROOT is the whole document."""
    plain = [d["n"] for d in coll.aggregate([{"$match": {"i": {"$gte": 5}}}, {"$sort": {"n": 1}}])]
    exact = [
        d["n"]
        for d in coll.aggregate([{"$match": {"s": {"$ne": "apple"}, "i": {"$gt": 0}}}, {"$sort": {"n": 1}}])
    ]
    refs = [d["n"] for d in coll.aggregate([{"$match": {"$and": [{"ref": REF[1]}]}}, {"$sort": {"n": 1}}])]
    assert (plain, exact, refs) == ([1, 2, 4, 6], [2, 4, 6], [1, 4])
    rooted = list(
        coll.aggregate(
            [
                {"$match": {"n": {"$in": [1, 2]}}},
                {"$project": {"n": 1, "root": "$$ROOT"}},
                {"$sort": {"n": 1}},
            ]
        )
    )
    assert [(d["n"], d["root"]["i"], d["root"]["s"]) for d in rooted] == [(1, 5, "apple"), (2, 10, "Banana")]


def test_a_first_match_on_mixed_types_matches_as_mongodb_does(coll):
    """A range on an array field is met when each bound is met by some element (10 > 2,
    1 < 4: no single element in range is needed); a string range never matches an
    embedded document."""
    coll.insert_one({"n": 90, "nums": [1, 10]})
    assert [d["n"] for d in coll.aggregate([{"$match": {"nums": {"$gt": 2, "$lt": 4}}}])] == [90]
    assert [d["n"] for d in coll.aggregate([{"$match": {"nums": {"$gt": 5}}}])] == [90]
    assert [d["n"] for d in coll.aggregate([{"$match": {"emb": {"$gt": "a"}}}])] == []


def test_documents_a_first_match_selects_are_unwound_and_grouped(coll):
    """Each unwound element is a document of its own; a $group reads the fields it names."""
    first = {"$match": {"s": {"$ne": "cherry"}, "b": {"$ne": False}}}
    unwound = list(
        coll.aggregate(
            [
                first,
                {"$sort": {"n": 1}},
                {"$unwind": "$tags"},
                {"$group": {"_id": "$tags", "ns": {"$push": "$n"}}},
                {"$sort": {"_id": 1}},
            ]
        )
    )
    assert unwound == [
        {"_id": "a", "ns": [1, 4]},
        {"_id": "c", "ns": [4]},
        {"_id": "vip", "ns": [1, 4, 5]},
        {"_id": "x", "ns": [6]},
        {"_id": "y", "ns": [6]},
    ]
    totals = list(
        coll.aggregate(
            [first, {"$group": {"_id": "$attrs.plan", "i": {"$sum": "$i"}}}, {"$sort": {"_id": 1}}]
        )
    )
    assert totals == [{"_id": None, "i": 0}, {"_id": "enterprise", "i": 100}, {"_id": "pro", "i": 12}]
