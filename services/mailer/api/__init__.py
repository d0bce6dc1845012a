"""HTTP API blueprints of the mailer service."""

from services.mailer.api import (
    audience,
    bounces,
    consents,
    deliveries,
    invitations,
    preferences,
    public,
    templates,
)

BLUEPRINTS = (
    templates.bp,
    consents.bp,
    deliveries.bp,
    public.bp,
    bounces.bp,
    bounces.unsubscribes,
    preferences.bp,
    audience.bp,
    invitations.bp,
)
