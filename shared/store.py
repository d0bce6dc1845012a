"""The store connection: mongoengine over pymongo, by URI.

The database name is the URI's path (``mongodb://host:27017/vinculo``).
Datetimes are stored and read as naive UTC, the driver's default.
"""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

import mongoengine
from mongoengine.connection import get_db

ALIAS = "default"


def database_name(uri: str) -> str:
    name = urlsplit(uri).path.lstrip("/").split("?")[0]
    if not name:
        raise ValueError(f"the MongoDB URI {uri!r} names no database (add /<name>)")
    return name


def connect(uri: str, *, server_selection_timeout_ms: int = 5000):
    """(Re)connect the default alias to ``uri`` and return the pymongo database."""
    mongoengine.disconnect(alias=ALIAS)
    mongoengine.connect(
        host=uri,
        db=database_name(uri),
        alias=ALIAS,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=server_selection_timeout_ms,
        tz_aware=False,
    )
    return get_db(ALIAS)


def disconnect() -> None:
    mongoengine.disconnect(alias=ALIAS)


def db():
    return get_db(ALIAS)


def ping() -> None:
    """Raise if the store does not answer."""
    db().command("ping")


def ensure_indexes(*documents) -> None:
    """Create the declared indexes of each document class (idempotent)."""
    for document in documents:
        document.ensure_indexes()


def utcnow() -> datetime.datetime:
    """Now, as the naive UTC datetime the store keeps."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def to_utc_naive(value: datetime.datetime) -> datetime.datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(datetime.UTC).replace(tzinfo=None)
