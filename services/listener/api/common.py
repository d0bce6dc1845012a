"""Helpers the listener's blueprints share: times (ids and paging: shared/http/paging.py)."""

from __future__ import annotations

import datetime


def iso(value: datetime.datetime | None) -> str | None:
    if value is None:
        return None
    return value.replace(tzinfo=datetime.UTC).isoformat()
