# ruff: noqa: F401, F811 - fixtures imported from another conftest to be used here
"""Public forms that send mail are throttled per destination address as
well as per client (issue 15, finding 12): /subscribe and /p/renew sent 16
mails to one address in seconds from a handful of clients. The answer is
the same whether a request was throttled, mailed, or named no customer."""

from __future__ import annotations

import re

from tests.mailer.conftest import (
    events,
    mailer_env,
    make_customer,
    settings,
    settings_for,  # noqa: F401
    sms_server,
    smtp_server,
)


def csrf_of(page) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def post_form(app, path: str, client_ip: str, **form):
    """One client (its own address, cookie and CSRF token) posting a public form once."""
    browser = app.test_client()
    env = {"REMOTE_ADDR": client_ip}
    csrf = csrf_of(browser.get(path, environ_base=env))
    answer = browser.post(path, data={"csrf": csrf, **form}, environ_base=env)
    return answer.status_code, answer.get_data(as_text=True)


def test_renew_and_subscribe_mail_one_address_at_most_a_few_times_whatever_the_client(  # noqa: F811
    settings_for, events, smtp_server
):  # noqa: F811
    from services.mailer.app import create_app

    app = create_app(settings_for(public_address_limit=3))
    make_customer(email="ñandú@ejemplo.es", events=events, first_name="Ñandú")
    make_customer(email="otra@ejemplo.es", events=events)

    renewals = [post_form(app, "/p/renew", f"203.0.113.{i}", email="ñandú@ejemplo.es") for i in range(8)]
    subscriptions = [
        post_form(
            app, "/subscribe", f"198.51.100.{i}", email="Ñandú@Ejemplo.es", topic=["newsletter", "promotions"]
        )
        for i in range(8)
    ]
    assert len(smtp_server.mailbox.to("ñandú@ejemplo.es")) == 3, "three mails in the window, from 16 clients"

    # Throttled, mailed and unknown addresses all get the same answer.
    assert len(set(renewals)) == 1 and renewals[0][0] == 200
    assert post_form(app, "/p/renew", "192.0.2.1", email="nadie@ejemplo.es") == renewals[0]
    assert len(set(subscriptions)) == 1 and subscriptions[0][0] == 200

    # The limit is per address: another customer still gets their link.
    assert post_form(app, "/p/renew", "203.0.113.1", email="otra@ejemplo.es") == renewals[0]
    assert len(smtp_server.mailbox.to("otra@ejemplo.es")) == 1


def test_the_hits_collection_holds_no_address(settings_for, events, smtp_server):  # noqa: F811
    from services.mailer.app import create_app
    from services.mailer.prefs_models import PublicHit

    app = create_app(settings_for())
    make_customer(email="zoë@bücher.example", events=events, first_name="Zoë")
    post_form(app, "/p/renew", "203.0.113.7", email="zoë@bücher.example")
    keys = [hit.key for hit in PublicHit.objects]
    assert any(key.startswith("mail|") for key in keys)
    assert not any("bücher" in key or "zo" in key for key in keys)
