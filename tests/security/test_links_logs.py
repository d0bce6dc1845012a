"""A customer's signed link is never written to the access log.

Every API logged ``request.path`` on each request: ``/p/<token>``, ``/u/<token>`` and
the others carried the whole signed token, so whoever reads the logs (an operator, the
log store, its backups) held every link a customer followed: 90 days of downloading
their data, erasing them or unsubscribing them. The log line keeps the route and the
outcome; the token is replaced."""

# ruff: noqa: F401, F811 - the mailer tests' fixtures, imported to be used here
from __future__ import annotations

import logging

from tests.mailer.conftest import (
    app,
    events,
    mailer_env,
    make_customer,
    settings,
    settings_for,
    sms_server,
    smtp_server,
)


def test_no_signed_link_reaches_the_access_log(app, events, caplog):
    caplog.set_level(logging.INFO, logger="vinculo.access")
    customer = make_customer(
        email="lucia@ejemplo.es", consent={("email", "newsletter"): "granted"}, events=events
    )
    tokens = app.extensions["vinculo"].tokens
    signed = {
        purpose: tokens.sign(purpose, {"c": str(customer.id)})
        for purpose in ("preferences", "unsubscribe", "confirm")
    }
    browser = app.test_client()
    visited = [
        f"/p/{signed['preferences']}",
        f"/p/{signed['preferences']}/erase",
        f"/u/{signed['unsubscribe']}",
        f"/c/{signed['confirm']}",
        f"/t/c/{signed['unsubscribe']}",
        f"/t/o/{signed['unsubscribe']}.gif",
    ]
    for path in visited:
        browser.get(path)
    lines = [r for r in caplog.records if r.name == "vinculo.access"]
    assert len(lines) >= len(visited)
    logged = caplog.text + " ".join(str(getattr(r, "fields", "")) for r in lines)
    for token in signed.values():
        assert token not in logged and token[:20] not in logged
    assert "/p/" in logged and "/u/" in logged  # the route is still there
