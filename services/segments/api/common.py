"""Helpers the segments blueprints share: ids, cursors, JSON of stored documents."""

from __future__ import annotations

import datetime
from decimal import Decimal

from apiflask import Schema
from apiflask.fields import Integer, String
from apiflask.validators import Range
from bson import ObjectId
from bson.errors import InvalidId
from flask import current_app

from shared.http.errors import ApiError, not_found


class PageIn(Schema):
    limit = Integer(load_default=50, validate=Range(min=1, max=500))
    cursor = String(load_default=None, metadata={"description": "the `next` of the previous page"})


def settings():
    return current_app.config["VINCULO_SETTINGS"]


def object_id(raw: str, what: str) -> ObjectId:
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        raise not_found(what, raw) from None


def cursor_id(raw: str | None) -> ObjectId | None:
    if not raw:
        return None
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        raise ApiError(
            422,
            "Invalid query: cursor",
            error="validation_error",
            location="query",
            fields={"cursor": ["Not a cursor returned by this list."]},
        ) from None


def iso(value: datetime.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.isoformat()


def jsonable(value):
    """Stored values -> JSON: ids as strings, times ISO 8601 with offset."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime.datetime):
        return iso(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


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
