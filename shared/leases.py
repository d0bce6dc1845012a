"""Leases on store documents: claim, renew, release, lost.

A lease is two fields of a document: who holds it (the owner field) and until
when (the expiry field). Claiming is one atomic ``find_one_and_update``
conditional on the document being free (nobody holds it, or the holder's lease
has expired, or, for a reentrant lease, we hold it already), so two workers can
never both hold it; renewing and releasing are conditional on still being the
holder, so a worker that lost its lease to a takeover changes nothing.

How "nobody holds it" is stored is kept here: a released lease has both fields
removed (``$unset``), never set to null, because the store stand-in does not
match an explicit null inside ``$or`` (MongoDB does); a missing field matches
``{field: None}`` on both. Older documents mark a free lease with an empty
owner and the epoch as expiry; those still count as free.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.store import utcnow

LEGACY_NO_OWNER = ""  # free, as written before this module (campaign runs)


class LeaseLost(Exception):
    """Another worker holds the lease now; stop without touching the document."""


@dataclass(frozen=True)
class Lease:
    """Leases held by ``owner`` on the documents of one collection.

    ``collection`` is a function returning the pymongo collection (resolved at
    each call, after the store is connected). ``reentrant`` lets the holder claim
    again what it already holds (a renewal by claim).
    """

    collection: Callable
    owner: str
    seconds: float
    _: KW_ONLY
    owner_field: str = "owner"
    until_field: str = "lease_until"
    reentrant: bool = False

    def until(self, now: datetime.datetime) -> datetime.datetime:
        return now + datetime.timedelta(seconds=self.seconds)

    def free(self, now: datetime.datetime) -> dict:
        """The condition for a document this owner may claim at ``now``."""
        owners = [LEGACY_NO_OWNER, self.owner] if self.reentrant else [LEGACY_NO_OWNER]
        return {
            "$or": [
                {self.owner_field: None},
                {self.owner_field: {"$in": owners}},
                {self.until_field: {"$lt": now}},
            ]
        }

    def claim(
        self,
        query: dict,
        *,
        now: datetime.datetime | None = None,
        sort: list | None = None,
        inc: dict | None = None,
        upsert: bool = False,
        **sets,
    ) -> dict | None:
        """Take the first free document matching ``query`` (setting ``sets``); the document or None."""
        now = now or utcnow()
        condition = dict(query)
        if "$or" in condition or "$and" in condition:
            condition["$and"] = [*condition.get("$and", []), self.free(now)]
        else:
            condition.update(self.free(now))
        update: dict = {"$set": {**sets, self.owner_field: self.owner, self.until_field: self.until(now)}}
        if inc:
            update["$inc"] = inc
        try:
            return self.collection().find_one_and_update(
                condition, update, sort=sort, upsert=upsert, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:
            return None  # the upsert met a document someone else holds

    def renew(
        self, doc_id, *, where: dict | None = None, now: datetime.datetime | None = None, **sets
    ) -> bool:
        """Extend the lease (and set ``sets``); False when this owner no longer holds it."""
        update = {"$set": {**sets, self.until_field: self.until(now or utcnow())}}
        mine = {**(where or {}), "_id": doc_id, self.owner_field: self.owner}
        return self.collection().update_one(mine, update).matched_count == 1

    def release(self, doc_id, *, inc: dict | None = None, **changes) -> bool:
        """Give the lease back, applying ``changes`` (None removes a field); False if not ours."""
        update: dict = {
            "$set": {k: v for k, v in changes.items() if v is not None},
            "$unset": {
                **{k: "" for k, v in changes.items() if v is None},
                self.owner_field: "",
                self.until_field: "",
            },
        }
        if not update["$set"]:
            del update["$set"]
        if inc:
            update["$inc"] = inc
        mine = {"_id": doc_id, self.owner_field: self.owner}
        return self.collection().update_one(mine, update).modified_count == 1

    def lost(self, doc_id, now: datetime.datetime | None = None) -> bool:
        """True when this owner no longer holds a live lease on the document."""
        held = {"_id": doc_id, self.owner_field: self.owner, self.until_field: {"$gt": now or utcnow()}}
        return self.collection().count_documents(held, limit=1) == 0

    def vacant(self) -> dict:
        """The ``$unset`` that frees the lease whoever holds it (for a document being reset)."""
        return {self.owner_field: "", self.until_field: ""}

    def held(self, doc: dict, now: datetime.datetime) -> bool:
        """Whether a document read earlier shows a live lease (anyone's)."""
        owner = doc.get(self.owner_field)
        until = doc.get(self.until_field)
        return owner not in (None, LEGACY_NO_OWNER) and until is not None and until > now
