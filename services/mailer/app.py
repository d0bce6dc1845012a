"""The mailer API app factory."""

from __future__ import annotations

from services.mailer import bootstrap
from services.mailer.settings import Settings
from shared.http.app import create_api_app


def create_app(settings: Settings | None = None, parts: bootstrap.MailerParts | None = None):
    """Build the mailer API: its parts (``bootstrap``), the store's indexes, the blueprints."""
    from services.mailer.api import BLUEPRINTS

    parts = parts or bootstrap.build(settings)
    app = create_api_app(
        __name__,
        service="mailer",
        title="Vínculo mailer API",
        settings=parts.settings,
        description="Templates, consent-respecting email and SMS delivery, unsubscribe, "
        "tracking, bounces, consents.",
    )
    parts.prepare_store()
    parts.install(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app
