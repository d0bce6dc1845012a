"""The mailer API app factory."""

from __future__ import annotations

from dataclasses import dataclass

from services.mailer import render_budget
from services.mailer.events import Events
from services.mailer.models import DOCUMENTS
from services.mailer.settings import Settings, load
from services.mailer.tokens import Tokens, from_settings
from services.mailer.tracking import Links
from shared.documents import prepare_store
from shared.http.app import create_api_app
from shared.messaging.outbox import Outbox
from shared.messaging.publisher import Publisher
from shared.messaging.topology import Topology


@dataclass
class MailerParts:
    events: Outbox
    tokens: Tokens
    links: Links


def create_app(settings: Settings | None = None):
    """Build the mailer API: connect the store, declare indexes, add blueprints."""
    from services.mailer.api import BLUEPRINTS

    settings = settings or load()
    app = create_api_app(
        __name__,
        service="mailer",
        title="Vínculo mailer API",
        settings=settings,
        description="Templates, consent-respecting email and SMS delivery, unsubscribe, "
        "tracking, bounces, consents.",
    )
    prepare_store(settings.mongo_uri, *DOCUMENTS)
    render_budget.configure(render_budget.RenderBudget.from_settings(settings))
    # The publisher connects on first publish, not here.
    publisher = Publisher(settings.amqp_url, Topology(settings.broker_namespace), "mailer")
    tokens = from_settings(settings)
    app.extensions["vinculo_mailer"] = MailerParts(
        events=Events(publisher),
        tokens=tokens,
        links=Links(tokens, settings.public_url, settings.unsubscribe_mailto),
    )
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app
