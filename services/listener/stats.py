"""Daily figures of a query's mentions, computed by the store (aggregation)."""

from __future__ import annotations

import datetime

from bson import ObjectId

from services.listener import store


def daily(
    query_id: ObjectId, since: datetime.datetime | None = None, until: datetime.datetime | None = None
) -> list[dict]:
    """[{day: 'YYYY-MM-DD', count, negative, neutral, positive, mean_sentiment}] in day order (UTC)."""
    return [
        {
            "day": row["_id"],
            "count": row["count"],
            "negative": row["negative"],
            "neutral": row["neutral"],
            "positive": row["positive"],
            "mean_sentiment": round(row["mean_sentiment"] or 0.0, 4),
        }
        for row in store.daily_counts(query_id, since, until)
    ]
