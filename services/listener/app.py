"""The listener API app factory."""

from __future__ import annotations

from services.listener import bootstrap
from services.listener.settings import Settings
from shared.http.app import service_api


def create_app(settings: Settings | None = None, parts: bootstrap.ListenerParts | None = None):
    """Build the listener API from its parts (``bootstrap.build``; see ``shared.http.app.service_api``)."""
    from services.listener.api import mentions, queries

    return service_api(
        __name__,
        parts or bootstrap.build(settings),
        title="Vínculo listener API",
        description="Listening queries, mentions with sentiment, triage and alerts.",
        blueprints=(queries.bp, mentions.bp),
    )
