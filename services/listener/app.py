"""The listener API app factory."""

from __future__ import annotations

from services.listener.settings import Settings
from shared.http.app import create_api_app


def create_app(settings: Settings | None = None):
    """Build the listener API through the composition root: connect the store, declare
    indexes, add blueprints; views reach the parts with ``shared.bootstrap.current()``."""
    from services.listener import bootstrap
    from services.listener.api import mentions, queries

    parts = bootstrap.build(settings)
    app = create_api_app(
        __name__,
        service="listener",
        title="Vínculo listener API",
        settings=parts.settings,
        description="Listening queries, mentions with sentiment, triage and alerts.",
    )
    parts.prepare_store()
    parts.install(app)
    app.register_blueprint(queries.bp)
    app.register_blueprint(mentions.bp)
    return app
