"""Ids and cursor paging for every API: one query parameter, one error shape.

Every list endpoint takes ``limit`` and ``cursor`` (the ``next`` of the
previous page) and answers ``{"items": [...], "total": n, "next": cursor}``.
Lists that used to page with ``?after=`` keep it as a deprecated alias
(``AfterAlias``); ``cursor`` wins when both are sent.
"""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Integer, List, Nested, Raw, String
from apiflask.validators import Range
from bson import ObjectId
from bson.errors import InvalidId

from shared.http.errors import field_error, not_found

NOT_A_CURSOR = "not a cursor from a previous page"


class PageQuery(Schema):
    limit = Integer(load_default=50, validate=Range(min=1, max=500))
    cursor = String(load_default=None, metadata={"description": "the `next` of the previous page"})


class AfterAlias(Schema):
    """Mixed into the query of a list that paged with ``?after=`` before ``cursor``."""

    after = String(
        load_default=None, metadata={"description": "deprecated: the same as `cursor`", "deprecated": True}
    )


class PageOut(Schema):
    items = List(Raw())
    total = Integer()
    next = String(allow_none=True)


def page_of(name: str, item: type[Schema]) -> type[Schema]:
    """The page schema of a list of ``item``: ``{"items": [...], "total": n, "next": cursor}``,
    named ``name`` in the OpenAPI document."""
    return type(
        name, (Schema,), {"items": List(Nested(item)), "total": Integer(), "next": String(allow_none=True)}
    )


def object_id(raw, what: str) -> ObjectId:
    """The id in a path; a 404 naming ``what`` when it cannot be one."""
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        raise not_found(what, raw) from None


def raw_cursor(query: dict) -> tuple[str, str | None]:
    """(parameter name, value) of the cursor sent: ``cursor``, else the deprecated ``after``."""
    if query.get("cursor") not in (None, ""):
        return "cursor", query["cursor"]
    if query.get("after") not in (None, ""):
        return "after", query["after"]
    return "cursor", None


def bad_cursor(field: str = "cursor"):
    return field_error(field, NOT_A_CURSOR, location="query")


def cursor_id(query: dict) -> ObjectId | None:
    """The id-based cursor of a list query (``cursor`` or ``after``); a 422 naming the parameter."""
    field, raw = raw_cursor(query)
    return parse_cursor(raw, field)


def parse_cursor(raw: str | None, field: str = "cursor") -> ObjectId | None:
    """An id sent as (part of) a cursor; None when empty, a 422 naming ``field`` when not an id."""
    if raw in (None, ""):
        return None
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        raise bad_cursor(field) from None


def page(
    collection, query: dict, limit: int, after: ObjectId | None, project=None, newest_first: bool = False
):
    """One page in ``_id`` order (ascending, or descending when ``newest_first``):
    (rows, total, next cursor)."""
    total = collection.count_documents(query)
    beyond = "$lt" if newest_first else "$gt"
    paged = query if after is None else {"$and": [query, {"_id": {beyond: after}}]}
    rows = list(collection.find(paged, project).sort("_id", -1 if newest_first else 1).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, total, (str(rows[-1]["_id"]) if more and rows else None)
