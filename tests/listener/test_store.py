"""The listener's store module on the store (real or stand-in): filters on the
``query_ids`` array (an ObjectId inside an array: the store module keeps them
inside ``$and``, see its docstring; MongoDB answers both shapes the same),
duplicates in a batch, and the composition root's parts built once."""

from __future__ import annotations

import datetime

from bson import ObjectId

from services.listener import store
from services.listener.models import Mention

T0 = datetime.datetime(2026, 11, 20, 9, 0)


def mention(post_id: str, query_ids: list, label: str, at: datetime.datetime) -> dict:
    return {
        "_id": ObjectId(),
        "source": "x",
        "post_id": post_id,
        "query_id": query_ids[0],
        "query_ids": query_ids,
        "text": post_id,
        "lang": "es",
        "sentiment": -0.5 if label == "negative" else 0.0,
        "label": label,
        "posted_at": at,
        "status": "new",
        "history": [],
    }


def test_filters_on_query_ids_find_the_mentions_of_a_query(mongo_uri):
    from shared.documents import prepare_store

    prepare_store(mongo_uri, Mention)
    one, two = ObjectId(), ObjectId()
    docs = [
        mention("1", [one], "negative", T0),
        mention("2", [one, two], "neutral", T0 + datetime.timedelta(minutes=5)),
        mention("3", [two], "negative", T0 + datetime.timedelta(days=1)),
    ]
    assert store.insert_new_mentions(docs) == set()
    assert store.count_mentions({"query_ids": one}) == 2
    assert store.count_mentions({"query_ids": two, "label": "negative"}) == 1
    assert store.count_posted(one, T0, T0 + datetime.timedelta(hours=1), negative=True) == 1
    assert store.count_posted(two, T0, T0 + datetime.timedelta(days=2), negative=False) == 2
    rows = store.mention_page({"query_ids": two}, None, 1)
    assert [r["_id"] for r in rows] == [docs[2]["_id"]]
    after = (rows[0]["posted_at"], rows[0]["_id"])
    assert [r["_id"] for r in store.mention_page({"query_ids": two}, after, 5)] == [docs[1]["_id"]]
    days = store.daily_counts(two, None, None)
    assert [(d["_id"], d["count"], d["negative"]) for d in days] == [
        ("2026-11-20", 1, 0),
        ("2026-11-21", 1, 1),
    ]


def test_a_batch_names_the_mentions_already_stored_and_stores_the_rest(mongo_uri):
    from shared.documents import prepare_store

    prepare_store(mongo_uri, Mention)
    one, two = ObjectId(), ObjectId()
    store.insert_new_mentions([mention("1", [one], "neutral", T0)])
    again = [mention("1", [two], "neutral", T0), mention("2", [two], "neutral", T0)]
    assert store.insert_new_mentions(again) == {0}
    store.add_query_to_mentions(two, [again[0]])
    stored = Mention._get_collection().find_one({"post_id": "1"})
    assert stored["query_ids"] == [one, two]
    assert store.count_mentions({"query_ids": two}) == 2


def test_the_parts_are_built_once_and_closed(service_env):
    from services.listener.bootstrap import build
    from services.listener.settings import load

    parts = build(service_env.settings(load))
    try:
        assert parts.producer == "listener"
        assert parts.pipeline is parts.pipeline and parts.pipeline.publisher is parts.outbox
        assert parts.alerts is parts.alerts and parts.alerts.publisher is parts.outbox
        assert set(parts.sources) == {"x", "mastodon", "rss"} and parts.sources is parts.sources
    finally:
        parts.close()
    assert parts._alerts is None and parts._outbox is None
