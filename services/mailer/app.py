"""The mailer API app factory."""

from __future__ import annotations

from services.mailer import bootstrap
from services.mailer.settings import Settings
from shared.http.app import service_api


def create_app(settings: Settings | None = None, parts: bootstrap.MailerParts | None = None):
    """Build the mailer API from its parts (``bootstrap.build``; see ``shared.http.app.service_api``)."""
    from services.mailer.api import BLUEPRINTS

    return service_api(
        __name__,
        parts or bootstrap.build(settings),
        title="Vínculo mailer API",
        description=(
            "Templates, consent-respecting email and SMS delivery, unsubscribe, tracking, bounces, consents."
        ),
        blueprints=BLUEPRINTS,
    )
