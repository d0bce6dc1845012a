"""A marketer's test send, with a customer's data, carries no link that acts for the customer.

``POST /templates/<id>/test-send`` with a ``customer_id`` rendered the message with the
live links: the customer's own unsubscribe and preference-center tokens, mailed to any
address the marketer typed. Whoever held that mail could, for 90 days and with no
account (a marketer since disabled, the outside address a test went to), grant
consents as the customer's own choice (no proof, which the consent API asks of a
marketer), download the whole profile or erase it. A test send's links are now the
preview's inert samples, as in the preview it stands for."""

# ruff: noqa: F401, F811 - the mailer tests' fixtures, imported to be used here
from __future__ import annotations

import pytest

from services.mailer.tokens import PURPOSES, TokenError, from_settings
from shared.models import ConsentEntry, ConsentState
from tests.mailer.conftest import (
    Api,
    app,
    events,
    mailer_env,
    settings,
    settings_for,
    sms_server,
    smtp_server,
)
from tests.security.test_roles_preview import customer, template, tokens_in
from tests.support import MARKETER_KEY


def test_a_test_send_for_a_customer_holds_no_token_any_public_page_accepts(
    app, settings, customer, template, smtp_server
):
    sent = Api(app.test_client(), MARKETER_KEY).post(
        f"/templates/{template['id']}/test-send",
        json={"to": "fuera@externo.example", "customer_id": str(customer.id)},
    )
    assert sent.status_code == 200, sent.json
    [message] = smtp_server.mailbox.to("fuera@externo.example")
    parsed = message.parsed()
    html = parsed.get_body(("html",)).get_content()
    text = parsed.get_body(("plain",)).get_content()
    headers = " ".join(f"{k}: {v}" for k, v in parsed.items())
    assert "Íñigo" in text  # the customer's data, as the marketer may see it
    found = tokens_in(html, text, headers)
    assert {kind for kind, _ in found} >= {"u", "p"}, (html, text)
    tokens = from_settings(settings)
    browser = app.test_client()  # no key: whoever holds the mail
    for _kind, token in found:
        for purpose in PURPOSES:
            with pytest.raises(TokenError):
                tokens.verify(token, purpose)
        assert browser.get(f"/p/{token}").status_code != 200
        assert browser.get(f"/p/{token}/data").status_code != 200
        assert browser.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert ConsentState.objects.get(customer_id=customer.id).status == "granted"
    assert ConsentEntry.objects(customer_id=customer.id).count() == 1
