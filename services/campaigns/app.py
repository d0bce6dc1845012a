"""The campaigns API app factory."""

from __future__ import annotations

from services.campaigns.models import DOCUMENTS
from services.campaigns.publishing import Announcer
from services.campaigns.settings import Settings, load
from services.campaigns.templates import Templates
from shared.documents import prepare_store
from shared.http.app import create_api_app


def create_app(settings: Settings | None = None):
    """Build the campaigns API: connect the store, declare indexes, add blueprints."""
    settings = settings or load()
    app = create_api_app(
        __name__,
        service="campaigns",
        title="Vínculo campaigns API",
        settings=settings,
        description="Campaigns, schedules, A/B tests, journeys and results.",
    )
    prepare_store(settings.mongo_uri, *DOCUMENTS)
    app.extensions["campaigns_announcer"] = Announcer(settings.amqp_url, settings.broker_namespace)
    # the mailer owns templates: a campaign's are checked through its API
    app.extensions["campaigns_templates"] = Templates(settings.mailer_url, settings.mailer_api_key)

    from services.campaigns.api import actions, campaigns, results

    app.register_blueprint(campaigns.bp)
    app.register_blueprint(actions.bp)
    app.register_blueprint(results.bp)
    return app
