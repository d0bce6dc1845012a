"""Helpers the segments blueprints share: settings, JSON of stored documents (paging: shared/http/paging.py).

The process's parts (settings, outbox) are ``shared.bootstrap.current()``."""

from __future__ import annotations

import datetime
from decimal import Decimal

from bson import ObjectId

from shared.bootstrap import current


def settings():
    return current().settings


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
