"""Interactions the mailer writes to a customer's timeline (sent, opened, clicked,
bounced, consent changed), each once: its ``key`` is unique."""

from __future__ import annotations

import mongoengine as me
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.models import Interaction


def add(**fields) -> bool:
    """One interaction; False when its key was written before."""
    try:
        Interaction(**fields).save(force_insert=True)
        return True
    except (me.NotUniqueError, DuplicateKeyError):
        return False


def add_many(docs: list[dict]) -> None:
    """Interactions in one ``insert_many``; those already written are left as they are."""
    try:
        Interaction._get_collection().insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
            raise


def written_keys(keys: list[str]) -> set[str]:
    """The keys among ``keys`` that have their interaction (one ``$in`` read)."""
    return {doc["key"] for doc in Interaction._get_collection().find({"key": {"$in": keys}}, {"key": 1})}
