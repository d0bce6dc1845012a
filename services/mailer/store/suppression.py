"""The suppression list the mailer owns: hashed contacts never sent to again."""

from __future__ import annotations

import mongoengine as me
from pymongo.errors import DuplicateKeyError

from shared.models import SuppressedContact


def suppressed_among(hashes: list[str]) -> set[str]:
    """The hashes of ``hashes`` on the list (one ``$in`` read; none asked, none read)."""
    if not hashes:
        return set()
    return {
        doc["hash"]
        for doc in SuppressedContact._get_collection().find({"hash": {"$in": hashes}}, {"hash": 1})
    }


def suppress(digest: str, kind: str, reason: str, at=None) -> bool:
    """Add a contact hash; False when it was already there (one row per hash, idempotent)."""
    fields = {"at": at} if at is not None else {}
    try:
        SuppressedContact(hash=digest, kind=kind, reason=reason, **fields).save(force_insert=True)
        return True
    except (me.NotUniqueError, DuplicateKeyError):
        return False
