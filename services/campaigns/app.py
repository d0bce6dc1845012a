"""The campaigns API app factory."""

from __future__ import annotations

from services.campaigns import bootstrap
from services.campaigns.settings import Settings
from shared.http.app import service_api


def create_app(settings: Settings | None = None, parts: bootstrap.CampaignsParts | None = None):
    """Build the campaigns API from its parts (``bootstrap.build``; see ``shared.http.app.service_api``)."""
    from services.campaigns.api import actions, campaigns, results

    return service_api(
        __name__,
        parts or bootstrap.build(settings),
        title="Vínculo campaigns API",
        description="Campaigns, schedules, A/B tests, journeys and results.",
        blueprints=(campaigns.bp, actions.bp, results.bp),
    )
