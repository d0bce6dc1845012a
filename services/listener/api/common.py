"""Helpers the listener's blueprints share: times (ids and paging: shared/http/paging.py)."""

from __future__ import annotations

import datetime

from shared.store import to_utc_naive


def iso(value: datetime.datetime | None) -> str | None:
    if value is None:
        return None
    return value.replace(tzinfo=datetime.UTC).isoformat()


def naive(value: datetime.datetime | None) -> datetime.datetime | None:
    """An aware datetime from the API -> naive UTC for the store (naive means UTC)."""
    return None if value is None else to_utc_naive(value)
