"""The profile's timeline (``interactions``), which segments owns: entries appended from
the other services' events, each once (``key`` is unique per fact)."""

from __future__ import annotations

from bson import ObjectId
from pymongo.errors import BulkWriteError

from shared.http.paging import page
from shared.models import Interaction

DUPLICATE = 11000


def append_entries(entries: list[dict]) -> None:
    """Append timeline entries in one ``insert_many``; those already there (a redelivered
    event) are left as they are. Any other write error is raised."""
    if not entries:
        return
    try:
        Interaction._get_collection().insert_many(entries, ordered=False)
    except BulkWriteError as exc:
        if any(e.get("code") != DUPLICATE for e in exc.details.get("writeErrors", [])):
            raise


def set_sentiment(key: str, score: float) -> None:
    """The corrected sentiment of a mention's entry (idempotent: a redelivery sets the same)."""
    Interaction._get_collection().update_one({"key": key}, {"$set": {"sentiment": score}})


def entries_page(customer_id: ObjectId, limit: int, after: ObjectId | None) -> tuple[list, int, str | None]:
    """One page of a customer's timeline in ``_id`` order: (entries, total, next cursor)."""
    rows, total, following = page(Interaction._get_collection(), {"customer_id": customer_id}, limit, after)
    return [Interaction._from_son(row) for row in rows], total, following
