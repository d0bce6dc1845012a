"""The profile's timeline (``interactions``), which segments owns: entries appended from
the other services' events, each once (``key`` is unique per fact)."""

from __future__ import annotations

from pymongo.errors import BulkWriteError

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
