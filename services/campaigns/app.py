"""The campaigns API app factory."""

from __future__ import annotations

from shared import store
from shared.http.app import create_api_app

from services.campaigns.settings import Settings, load


def create_app(settings: Settings | None = None):
    """Build the campaigns API: connect the store, declare indexes, add blueprints."""
    settings = settings or load()
    app = create_api_app(__name__, service="campaigns", title="Vínculo campaigns API", settings=settings,
                         description="Campaigns, schedules, A/B tests, journeys and results.")
    store.prepare(settings.mongo_uri)
    return app
