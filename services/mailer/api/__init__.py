"""HTTP API blueprints of the mailer service."""

from services.mailer.api import (
    audience,
    bounces,
    consents,
    deliveries,
    invitations,
    preferences,  # noqa: F401 - its views join prefpages.bp
    preferences_data,  # noqa: F401 - its views join prefpages.bp
    prefpages,
    public,
    template_previews,  # noqa: F401 - its views join templates.bp
    templates,
)

BLUEPRINTS = (
    templates.bp,
    consents.bp,
    deliveries.bp,
    public.bp,
    bounces.bp,
    bounces.unsubscribes,
    prefpages.bp,
    audience.bp,
    invitations.bp,
)
