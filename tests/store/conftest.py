"""Fixtures for the store contract: a raw collection in the test's fresh database."""

from __future__ import annotations

import datetime

import pytest
from bson import ObjectId

from shared import store

T0 = datetime.datetime(2026, 1, 1, 10, 0, 0)
REF = [ObjectId(f"6500000000000000000000{i:02x}") for i in range(10)]

# Six documents covering the shapes services store: missing and null fields,
# arrays (and a scalar where others hold an array), embedded documents, dict keys.
DOCS = [
    {
        "n": 1,
        "s": "apple",
        "i": 5,
        "f": 1.5,
        "b": True,
        "d": T0,
        "tags": ["vip", "a"],
        "emb": {"x": 1, "y": "p"},
        "attrs": {"plan": "pro", "seats": 3},
        "ref": REF[1],
        "arr": [{"k": "a", "v": 1}, {"k": "b", "v": 2}],
        "nul": None,
    },
    {
        "n": 2,
        "s": "Banana",
        "i": 10,
        "f": 2.25,
        "b": False,
        "d": T0 + datetime.timedelta(days=1, milliseconds=250),
        "tags": ["b"],
        "emb": {"x": 2, "y": "q"},
        "attrs": {"plan": "free"},
        "ref": REF[2],
        "arr": [{"k": "a", "v": 5}],
    },
    {
        "n": 3,
        "s": "cherry",
        "i": -3,
        "f": -0.5,
        "b": True,
        "d": T0 - datetime.timedelta(days=2),
        "tags": [],
        "emb": {"x": 3},
        "attrs": {},
        "ref": None,
        "arr": [],
    },
    {
        "n": 4,
        "s": "apple pie",
        "i": 7,
        "f": 7.0,
        "d": T0 + datetime.timedelta(hours=5),
        "tags": ["vip", "c", "a"],
        "emb": {"x": 1, "y": "r"},
        "attrs": {"plan": "pro"},
        "ref": REF[1],
    },
    {"n": 5, "i": 0, "f": 0.0, "b": None, "tags": "vip", "emb": None},
    {
        "n": 6,
        "s": "date",
        "i": 100,
        "f": 1e10,
        "b": True,
        "d": T0 + datetime.timedelta(days=30),
        "tags": ["x", "y"],
        "emb": {"x": 10, "y": "s"},
        "attrs": {"plan": "enterprise", "seats": 50},
        "ref": REF[3],
    },
]


@pytest.fixture
def coll(mongo_uri):
    collection = store.db()["contract_docs"]
    collection.insert_many([dict(doc) for doc in DOCS])
    return collection


def ns(collection, query, **kwargs):
    """The sorted ``n`` of the documents ``query`` finds."""
    return sorted(doc["n"] for doc in collection.find(query, **kwargs))
