"""The rate windows shared by every worker: one document per (provider, second)."""

from __future__ import annotations

import datetime

from pymongo import ReturnDocument

from services.mailer.models import RateWindow


def take_from_window(provider: str, second: int, wanted: int) -> int:
    """Add ``wanted`` to this second's count (upserting its window); the count after.

    Raises ``DuplicateKeyError`` when two first upserts of the window collide (retry it)."""
    doc = RateWindow._get_collection().find_one_and_update(
        {"provider": provider, "second": second},
        {
            "$inc": {"count": wanted},
            "$setOnInsert": {"expires_at": datetime.datetime.utcfromtimestamp(second + 60)},
        },
        upsert=True,
        return_document=ReturnDocument.AFTER,
        projection={"count": 1},
    )
    return doc["count"]
