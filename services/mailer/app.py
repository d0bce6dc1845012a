"""The mailer API app factory."""

from __future__ import annotations

from shared import store
from shared.http.app import create_api_app

from services.mailer.settings import Settings, load


def create_app(settings: Settings | None = None):
    """Build the mailer API: connect the store, declare indexes, add blueprints."""
    settings = settings or load()
    app = create_api_app(__name__, service="mailer", title="Vínculo mailer API", settings=settings,
                         description="Templates, consent-respecting email and SMS delivery, unsubscribe, tracking, preference center.")
    store.prepare(settings.mongo_uri)
    return app
