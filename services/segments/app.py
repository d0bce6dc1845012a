"""The segments API app factory."""

from __future__ import annotations

from services.segments.settings import Settings, load
from shared.documents import prepare_store
from shared.http.app import create_api_app


def create_app(settings: Settings | None = None):
    """Build the segments API: connect the store, declare indexes, add blueprints."""
    settings = settings or load()
    app = create_api_app(
        __name__,
        service="segments",
        title="Vínculo audience API: customer profiles, imports and segments",
        settings=settings,
        description="Customer profiles, imports and segments, kept fresh as events arrive.",
    )
    from services.segments.api import customers, imports, places, segments
    from services.segments.models import SERVICE_DOCUMENTS

    prepare_store(settings.mongo_uri, *SERVICE_DOCUMENTS)
    for module in (customers, segments, imports, places):
        app.register_blueprint(module.bp)
    return app
