"""Mentions in the store: a batch stored once, triage changes, pages, daily figures.
(The timeline entries of linked mentions are segments': it owns ``interactions``.)

The store stand-in has missed an ObjectId inside an array (``{"query_ids": id}``)
unless the filter was wrapped in ``$and`` (the api's comment of old; the current
stand-in answers both shapes alike in tests/listener/test_store.py's cases).
MongoDB answers both the same, so every filter on ``query_ids`` here stays inside
``{"$and": [...]}``.
"""

from __future__ import annotations

import datetime

from bson import ObjectId
from pymongo.errors import BulkWriteError

from services.listener.models import Mention
from shared.models import Customer

DUPLICATE = 11000


def _wrapped(match: dict) -> dict:
    """The filter inside ``$and`` (see the module docstring: the store stand-in)."""
    return {"$and": [match]}


# --- a batch of mentions (the pipeline) ------------------------------------------


def customers_by_social_key(keys: set[str]) -> dict[str, ObjectId]:
    """social key -> customer id, in one indexed lookup (the oldest profile wins a shared handle)."""
    if not keys:
        return {}
    found: dict[str, ObjectId] = {}
    rows = (
        Customer._get_collection()
        .find({"social_keys": {"$in": sorted(keys)}, "erased": {"$ne": True}}, {"social_keys": 1})
        .sort("_id", 1)
    )
    for row in rows:
        for key in row.get("social_keys") or []:
            if key in keys:
                found.setdefault(key, row["_id"])
    return found


def insert_new_mentions(docs: list[dict]) -> set[int]:
    """Insert a batch in one command; the indexes of the documents already stored (unique by
    source and post id). Any other write error is raised."""
    failed: set[int] = set()
    try:
        Mention._get_collection().insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        for error in exc.details.get("writeErrors", []):
            if error.get("code") != DUPLICATE:
                raise
            failed.add(error["index"])
    return failed


def add_query_to_mentions(query_id: ObjectId, duplicates: list[dict]) -> None:
    """Remember that this query found these already stored mentions too (one update per source)."""
    collection = Mention._get_collection()
    for source in {d["source"] for d in duplicates}:
        collection.update_many(
            {
                "source": source,
                "post_id": {"$in": [d["post_id"] for d in duplicates if d["source"] == source]},
            },
            {"$addToSet": {"query_ids": query_id}},
        )


def mentions_with_ids(ids: list) -> list[dict]:
    """The stored mention documents among ``ids``."""
    return list(Mention._get_collection().find({"_id": {"$in": ids}}))


# --- triage ------------------------------------------------------------------------


def find_mention(mention_id: ObjectId) -> Mention | None:
    return Mention.objects(id=mention_id).first()


def count_mentions(match: dict) -> int:
    return Mention._get_collection().count_documents(_wrapped(match) if match else {})


def mention_page(match: dict, after: tuple[datetime.datetime, ObjectId] | None, limit: int) -> list[dict]:
    """``{_id, posted_at}`` of a page, newest post first, after the (posted_at, id) of the
    previous page's last mention (a total order)."""
    older = (
        [{"$or": [{"posted_at": {"$lt": after[0]}}, {"posted_at": after[0], "_id": {"$lt": after[1]}}]}]
        if after
        else []
    )
    return list(
        Mention._get_collection()
        .find({"$and": [match, *older]}, {"_id": 1, "posted_at": 1})
        .sort([("posted_at", -1), ("_id", -1)])
        .limit(limit)
    )


def mentions_by_id(ids: list) -> dict:
    return {m.id: m for m in Mention.objects(id__in=ids)}


def update_mention_if(mention_id: ObjectId, conditions: dict, updates: dict, entry: dict) -> bool:
    """Apply ``updates`` (mongoengine's ``set__...``) and log ``entry`` in the history, only
    while the mention still matches ``conditions``; False when it no longer does."""
    return bool(Mention.objects(id=mention_id, **conditions).update_one(**updates, push__history=entry))


def corrected_mentions():
    """Corrected mentions: ``_id``, ``text``, ``lang``, ``correction.label``."""
    return Mention._get_collection().find(
        {"correction": {"$exists": True}}, {"text": 1, "lang": 1, "correction.label": 1}
    )


# --- figures -----------------------------------------------------------------------


def daily_counts(
    query_id: ObjectId, since: datetime.datetime | None, until: datetime.datetime | None
) -> list[dict]:
    """Per UTC day (``_id`` 'YYYY-MM-DD'), in day order: count, negative, neutral, positive,
    mean_sentiment of a query's mentions, computed by the store."""
    match: dict = {"query_ids": query_id}
    if since or until:
        match["posted_at"] = {k: v for k, v in (("$gte", since), ("$lt", until)) if v is not None}
    pipeline = [
        {"$match": _wrapped(match)},
        {
            "$group": {
                "_id": {"$dateToString": {"format": "%Y-%m-%d", "date": "$posted_at"}},
                "count": {"$sum": 1},
                "negative": {"$sum": {"$cond": [{"$eq": ["$label", "negative"]}, 1, 0]}},
                "neutral": {"$sum": {"$cond": [{"$eq": ["$label", "neutral"]}, 1, 0]}},
                "positive": {"$sum": {"$cond": [{"$eq": ["$label", "positive"]}, 1, 0]}},
                "mean_sentiment": {"$avg": "$sentiment"},
            }
        },
        {"$sort": {"_id": 1}},
    ]
    return list(Mention._get_collection().aggregate(pipeline))


def count_posted(
    query_id: ObjectId, since: datetime.datetime, until: datetime.datetime, negative: bool
) -> int:
    """Mentions of a query posted in [since, until), only the negative ones if ``negative``."""
    match = {"query_ids": query_id, "posted_at": {"$gte": since, "$lt": until}}
    if negative:
        match["label"] = "negative"
    return Mention._get_collection().count_documents(_wrapped(match))
