"""Helpers the listener's blueprints share: ids, times, list envelopes."""

from __future__ import annotations

import datetime

from apiflask import Schema
from apiflask.fields import Integer, List, Raw, String
from bson import ObjectId
from bson.errors import InvalidId

from shared.http.errors import field_error, not_found
from shared.store import to_utc_naive


def object_id(raw: str, what: str) -> ObjectId:
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        raise not_found(what, raw) from None


def iso(value: datetime.datetime | None) -> str | None:
    if value is None:
        return None
    return value.replace(tzinfo=datetime.UTC).isoformat()


def naive(value: datetime.datetime | None) -> datetime.datetime | None:
    """An aware datetime from the API -> naive UTC for the store (naive means UTC)."""
    return None if value is None else to_utc_naive(value)


def cursor_id(raw: str | None, field: str = "cursor") -> ObjectId | None:
    if not raw:
        return None
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        raise field_error(field, "not a cursor from a previous page", location="query") from None


class PageOut(Schema):
    items = List(Raw())
    total = Integer()
    next = String(allow_none=True)
