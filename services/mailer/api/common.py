"""Small helpers the mailer's views share."""

from __future__ import annotations

import datetime

from bson import ObjectId
from bson.errors import InvalidId
from flask import current_app

from shared.http.errors import field_error, not_found


def aware(value):
    """Naive UTC from the store -> aware UTC for the API (ISO 8601 with offset)."""
    if isinstance(value, datetime.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=datetime.UTC)
    return value


def object_id(raw, what: str) -> ObjectId:
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        raise not_found(what, raw) from None


def cursor_id(raw, field: str = "after") -> ObjectId | None:
    if raw in (None, ""):
        return None
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        raise field_error(field, "is not a cursor from a previous page", location="query") from None


def settings():
    return current_app.config["VINCULO_SETTINGS"]


def mailer():
    """The per-app pieces (events, tokens, links, sender) built in create_app."""
    return current_app.extensions["vinculo_mailer"]
