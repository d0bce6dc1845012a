"""Single sign-on takes an account by its email only when the provider says it verified it.

The callback refused ``email_verified: false`` but took a missing claim as verified, and
then matched the console's account by that email, the admin's included. Providers that
send no such claim exist, and with some of them a person edits the address of their own
identity (the "nOAuth" takeovers of 2023): anyone with an identity there signed in as
the console's admin by naming the admin's address. Now an address the provider does not
say it verified opens no account and makes none, unless the operator says its
addresses are its own directory's (``VINCULO_CONSOLE_OIDC_TRUST_EMAIL``)."""

from __future__ import annotations

from services.console import accounts
from shared import store
from tests.console.conftest import in_process_console, listener_url  # noqa: F401 - fixtures
from tests.console.test_accounts_oidc import CLIENT_ID, CLIENT_SECRET, provider, single_sign_on  # noqa: F401

ROLE_MAP = {"Marketing España": "marketer", "it-admins": "admin"}


def console(service_env, listener_url, provider, **more):  # noqa: F811
    return in_process_console(
        service_env,
        listener_url=listener_url,
        oidc_issuer=provider.base,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_role_claim="groups",
        oidc_role_map=ROLE_MAP,
        oidc_create_users=True,
        **more,
    )


def test_an_address_the_provider_never_said_it_verified_opens_no_account(
    service_env,
    listener_url,  # noqa: F811
    provider,  # noqa: F811
):
    accounts.create_user("jefa@vinculo.example", "Jefa", "admin", "una clave larga de la jefa")
    app = console(service_env, listener_url, provider)
    provider.person = {"email": "jefa@vinculo.example", "name": "Otra", "groups": ["Marketing España"]}
    taken, _ = single_sign_on(app.test_client(), provider)
    assert taken.status_code == 403, taken.headers.get("Location")
    assert store.db().console_sessions.count_documents({}) == 0
    assert accounts.find_user("jefa@vinculo.example")["role"] == "admin"  # not demoted either
    provider.person = {"email": "nueva@vinculo.example", "groups": ["Marketing España"]}
    made, _ = single_sign_on(app.test_client(), provider)
    assert made.status_code == 403 and accounts.find_user("nueva@vinculo.example") is None

    provider.person = {"email": "jefa@vinculo.example", "email_verified": True, "groups": ["it-admins"]}
    verified, _ = single_sign_on(app.test_client(), provider)
    assert verified.status_code == 302 and verified.headers["Location"] == "/dashboard"

    trusting = console(service_env, listener_url, provider, oidc_trust_email=True)
    provider.person = {"email": "nueva@vinculo.example", "groups": ["Marketing España"]}
    trusted, _ = single_sign_on(trusting.test_client(), provider)
    assert trusted.status_code == 302 and accounts.find_user("nueva@vinculo.example")["role"] == "marketer"
