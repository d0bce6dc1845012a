"""Small helpers the mailer's views share."""

from __future__ import annotations

import datetime

from flask import current_app


def aware(value):
    """Naive UTC from the store -> aware UTC for the API (ISO 8601 with offset)."""
    if isinstance(value, datetime.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=datetime.UTC)
    return value


def settings():
    return current_app.config["VINCULO_SETTINGS"]


def mailer():
    """The per-app pieces (events, tokens, links, sender) built in create_app."""
    return current_app.extensions["vinculo_mailer"]
