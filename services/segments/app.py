"""The segments API app factory."""

from __future__ import annotations

from services.segments import bootstrap
from services.segments.settings import Settings
from shared.http.app import create_api_app


def create_app(settings: Settings | None = None):
    """Build the segments API: its parts, the store's indexes, the blueprints."""
    parts = bootstrap.build(settings)
    app = create_api_app(
        __name__,
        service="segments",
        title="Vínculo audience API: customer profiles, imports and segments",
        settings=parts.settings,
        description="Customer profiles, imports and segments, kept fresh as events arrive.",
    )
    from services.segments.api import customers, imports, places, segments

    parts.prepare_store()
    parts.install(app)
    for module in (customers, segments, imports, places):
        app.register_blueprint(module.bp)
    return app
