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


# What a timeline entry may quote of the person: a post's text or a purchase's note
# (``summary``), a post's or clicked link's address (``data.url``: x.com/<handle>/..., ?email=),
# a provider's diagnostic (``data.reason``: "550 <ana@ejemplo.es>: unknown"). A consent entry's
# summary is written by segments ("email/newsletter: granted (api)") and stays.
PERSONAL_IN_ENTRIES = ("summary", "data.url", "data.reason")
KEEPS_SUMMARY = ("consent_changed",)


def forget(customer_id: ObjectId) -> None:
    """An erased customer's timeline keeps what happened and when, nothing it quoted of them
    (one command; idempotent)."""
    Interaction._get_collection().update_many(
        {"customer_id": customer_id, "kind": {"$nin": list(KEEPS_SUMMARY)}},
        {"$unset": dict.fromkeys(PERSONAL_IN_ENTRIES, "")},
    )


def set_sentiment(key: str, score: float) -> None:
    """The corrected sentiment of a mention's entry (idempotent: a redelivery sets the same)."""
    Interaction._get_collection().update_one({"key": key}, {"$set": {"sentiment": score}})


def entries_page(customer_id: ObjectId, limit: int, after: ObjectId | None) -> tuple[list, int, str | None]:
    """One page of a customer's timeline in ``_id`` order: (entries, total, next cursor)."""
    rows, total, following = page(Interaction._get_collection(), {"customer_id": customer_id}, limit, after)
    return [Interaction._from_son(row) for row in rows], total, following
