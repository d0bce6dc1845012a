"""Daily figures of a query's mentions, computed by the store (aggregation)."""

from __future__ import annotations

import datetime

from bson import ObjectId

from services.listener.models import Mention


def daily(
    query_id: ObjectId, since: datetime.datetime | None = None, until: datetime.datetime | None = None
) -> list[dict]:
    """[{day: 'YYYY-MM-DD', count, negative, neutral, positive, mean_sentiment}] in day order (UTC)."""
    match: dict = {"query_ids": query_id}
    if since or until:
        match["posted_at"] = {k: v for k, v in (("$gte", since), ("$lt", until)) if v is not None}
    pipeline = [
        {"$match": {"$and": [match]}},  # wrapped: see api/mentions.py (store stand-in)
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
    return [
        {
            "day": row["_id"],
            "count": row["count"],
            "negative": row["negative"],
            "neutral": row["neutral"],
            "positive": row["positive"],
            "mean_sentiment": round(row["mean_sentiment"] or 0.0, 4),
        }
        for row in Mention._get_collection().aggregate(pipeline)
    ]
