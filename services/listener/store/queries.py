"""Listening queries and the cursor each (query, source) pair keeps, with the lease a
poller holds on a cursor while it polls."""

from __future__ import annotations

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from services.listener.models import ListeningQuery, SourceCursor
from shared.leases import Lease
from shared.store import utcnow

# --- queries -----------------------------------------------------------------------


def find_query(query_id: ObjectId) -> ListeningQuery | None:
    return ListeningQuery.objects(id=query_id).first()


def active_queries() -> list[ListeningQuery]:
    return list(ListeningQuery.objects(active=True))


def streamed_queries() -> list[ListeningQuery]:
    """Active queries with the x source (those of the filtered stream)."""
    return list(ListeningQuery.objects(active=True, sources="x"))


def query_page(active: bool | None, after: ObjectId | None, limit: int) -> tuple[int, list[ListeningQuery]]:
    """(how many match, the page after ``after``), oldest first."""
    objects = ListeningQuery.objects(**({} if active is None else {"active": active}))
    total = objects.count()
    if after:
        objects = objects.filter(id__gt=after)
    return total, list(objects.order_by("id").limit(limit))


def add_query(fields: dict) -> ListeningQuery:
    return ListeningQuery(**fields).save()


def update_query(query_id: ObjectId, changes: dict) -> None:
    ListeningQuery.objects(id=query_id).update_one(**{f"set__{k}": v for k, v in changes.items()})


def delete_query(query: ListeningQuery) -> None:
    """The query and its cursors (its mentions stay)."""
    SourceCursor.objects(query_id=query.id).delete()
    query.delete()


# --- cursors -----------------------------------------------------------------------


def cursors_of(query_id: ObjectId) -> list[SourceCursor]:
    return list(SourceCursor.objects(query_id=query_id))


def cursors_by_query(query_ids: list) -> dict:
    """query id -> its cursors, in one lookup."""
    cursors: dict = {}
    for cursor in SourceCursor.objects(query_id__in=query_ids):
        cursors.setdefault(cursor.query_id, []).append(cursor)
    return cursors


def cursor_pairs(query_ids: list) -> set[tuple]:
    """The (query id, source) pairs that have a cursor."""
    return {
        (c["query_id"], c["source"])
        for c in SourceCursor._get_collection().find(
            {"query_id": {"$in": query_ids}}, {"query_id": 1, "source": 1}
        )
    }


def add_cursor(query_id: ObjectId, source: str) -> None:
    """A pending cursor, due now (another replica making it first is fine)."""
    try:
        SourceCursor._get_collection().insert_one(
            {
                "query_id": query_id,
                "source": source,
                "cursor": {},
                "status": "pending",
                "next_poll_at": utcnow(),
                "fetched": 0,
                "updated_at": utcnow(),
            }
        )
    except DuplicateKeyError:
        pass  # another replica made it


def restart_stopped_sources(query_id: ObjectId) -> None:
    """Sources stopped by auth errors poll again (the query was edited)."""
    SourceCursor.objects(query_id=query_id, status="auth_failed").update(
        set__status="pending", set__message="restarted after the query was edited", set__next_poll_at=utcnow()
    )


def stop_source(query_id: ObjectId, source: str, change: dict) -> None:
    """Set ``change`` (a status and message) on the pair's cursor, making it if no poller has yet."""
    collection = SourceCursor._get_collection()
    if collection.update_one({"query_id": query_id, "source": source}, {"$set": change}).matched_count:
        return
    try:
        collection.insert_one({"query_id": query_id, "source": source, "cursor": {}, "fetched": 0, **change})
    except DuplicateKeyError:
        collection.update_one({"query_id": query_id, "source": source}, {"$set": change})


def cursor_lease(owner: str, seconds: float) -> Lease:
    """The lease a poller takes on a (query, source) cursor while it polls it."""
    return Lease(
        SourceCursor._get_collection,
        owner,
        seconds,
        owner_field="lease_owner",
        until_field="lease_until",
    )
