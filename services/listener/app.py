"""The listener API app factory."""

from __future__ import annotations

from services.listener.settings import Settings, load
from shared.documents import prepare_store
from shared.http.app import create_api_app


def create_app(settings: Settings | None = None):
    """Build the listener API: connect the store, declare indexes, add blueprints."""
    from services.listener.api import mentions, queries
    from services.listener.models import DOCUMENTS

    settings = settings or load()
    app = create_api_app(
        __name__,
        service="listener",
        title="Vínculo listener API",
        settings=settings,
        description="Listening queries, mentions with sentiment, triage and alerts.",
    )
    prepare_store(settings.mongo_uri, *DOCUMENTS)
    app.register_blueprint(queries.bp)
    app.register_blueprint(mentions.bp)
    return app
