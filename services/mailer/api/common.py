"""Small helpers the mailer's views share."""

from __future__ import annotations

import datetime

from flask import current_app

from shared.bootstrap import current


def aware(value):
    """Naive UTC from the store -> aware UTC for the API (ISO 8601 with offset)."""
    if isinstance(value, datetime.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=datetime.UTC)
    return value


def settings():
    return current_app.config["VINCULO_SETTINGS"]


def mailer():
    """The app's parts (``services.mailer.bootstrap``: events, tokens, links, listener, transports)."""
    return current()
