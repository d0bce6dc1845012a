"""The campaigns API app factory."""

from __future__ import annotations

from services.campaigns import bootstrap
from services.campaigns.settings import Settings
from shared.http.app import create_api_app


def create_app(settings: Settings | None = None, parts: bootstrap.CampaignsParts | None = None):
    """Build the campaigns API: its parts (through ``bootstrap.build``), the store connected
    and its indexes declared, the blueprints added."""
    parts = parts or bootstrap.build(settings)
    app = create_api_app(
        __name__,
        service="campaigns",
        title="Vínculo campaigns API",
        settings=parts.settings,
        description="Campaigns, schedules, A/B tests, journeys and results.",
    )
    parts.prepare_store()
    parts.install(app)

    from services.campaigns.api import actions, campaigns, results

    app.register_blueprint(campaigns.bp)
    app.register_blueprint(actions.bp)
    app.register_blueprint(results.bp)
    return app
