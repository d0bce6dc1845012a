"""Two-factor secrets at rest: the store never holds the TOTP secret as it is (AES-GCM under a
key derived from the console's secret key), sign-in with a code still works, and secrets
stored plain by an earlier version keep working and are sealed (at start-up, or at their
next use)."""

from __future__ import annotations

import datetime
import re

import pyotp

from services.console import accounts
from services.console.accounts import sealed
from shared import store
from tests.console.conftest import in_process_console
from tests.console.test_accounts import sign_in_as
from tests.console.test_pages import csrf_of, token

PASSWORD = "una frase larga de marketing 2026"


def next_code(secret: str, email: str) -> str:
    """A code of a time step the account has not used yet (a code works once)."""
    totp = pyotp.TOTP(secret)
    last = store.db().users.find_one({"email": email}).get("totp_last_step") or 0
    return totp.generate_otp(max(last + 1, totp.timecode(datetime.datetime.now(datetime.UTC))))


def sign_in_with_code(app, email: str, code: str):
    client = app.test_client()
    csrf = token(client)
    first = client.post("/sign-in", data={"csrf_token": csrf, "email": email, "password": PASSWORD})
    assert first.status_code == 302 and first.headers["Location"].startswith("/sign-in/code")
    return client, client.post("/sign-in/code", data={"csrf_token": token(client), "code": code})


def test_the_store_holds_the_totp_secret_sealed_and_sign_in_still_works(console_app):
    user = accounts.create_user("marta@bücher.example", "Marta", "marketer", PASSWORD)
    client = sign_in_as(console_app, "marta@bücher.example", PASSWORD)
    page = client.post("/account/two-factor/start", data={"csrf_token": csrf_of(client, "/account")})
    secret = re.search(r'<code class="totp-secret">([A-Z2-7]+)</code>', page.get_data(as_text=True)).group(1)
    pending = store.db().users.find_one({"_id": user["_id"]})["totp_pending"]
    assert pending.startswith("v1:") and secret not in pending

    wrong = client.post(
        "/account/two-factor/confirm", data={"csrf_token": csrf_of(client, "/account"), "code": "000000"}
    )
    assert wrong.status_code == 422 and secret in wrong.get_data(as_text=True)  # shown again, opened
    confirmed = client.post(
        "/account/two-factor/confirm",
        data={"csrf_token": csrf_of(client, "/account"), "code": pyotp.TOTP(secret).now()},
    )
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    stored = store.db().users.find_one({"_id": user["_id"]})
    assert "totp_pending" not in stored
    assert stored["totp_secret"].startswith("v1:") and secret not in stored["totp_secret"]
    assert (
        sealed.unseal(stored["totp_secret"], user["_id"], sealed.key_from(console_app.secret_key)) == secret
    )

    wrong_client, refused = sign_in_with_code(console_app, "marta@bücher.example", "123456")
    assert refused.status_code == 401
    _client, signed = sign_in_with_code(console_app, "marta@bücher.example", next_code(secret, user["email"]))
    assert signed.status_code == 302 and signed.headers["Location"] == "/dashboard"


def test_a_sealed_secret_opens_only_for_its_person_and_key():
    key = sealed.key_from("a console secret key, 16+")
    box = sealed.seal("JBSWY3DPEHPK3PXP", "64b000000000000000000001", key)
    assert sealed.unseal(box, "64b000000000000000000001", key) == "JBSWY3DPEHPK3PXP"
    assert sealed.unseal(box, "64b000000000000000000002", key) is None  # copied to another person
    assert sealed.unseal(box, "64b000000000000000000001", sealed.key_from("another secret key!!")) is None
    assert sealed.seal("JBSWY3DPEHPK3PXP", "64b000000000000000000001", key) != box  # a new nonce
    assert key != b"a console secret key, 16+"[:32]


def test_plain_secrets_of_an_earlier_version_keep_working_and_are_sealed(service_env, listener_url):
    console_app = in_process_console(service_env, listener_url=listener_url)
    old = accounts.create_user("ana@example.com", "Ana", "analyst", PASSWORD)
    later = accounts.create_user("lucia@example.com", "Lucía", "marketer", PASSWORD)
    secret = pyotp.random_base32()
    for user in (old, later):
        store.db().users.update_one({"_id": user["_id"]}, {"$set": {"totp_secret": secret}})

    # A console starting seals every plain secret it finds.
    restarted = in_process_console(service_env, listener_url=listener_url)
    for user in (old, later):
        stored = store.db().users.find_one({"_id": user["_id"]})["totp_secret"]
        assert stored.startswith("v1:") and secret not in stored
    _client, signed = sign_in_with_code(restarted, "ana@example.com", next_code(secret, "ana@example.com"))
    assert signed.status_code == 302 and signed.headers["Location"] == "/dashboard"

    # One written plain after the start (an older console still running) is sealed at its next use.
    store.db().users.update_one({"_id": later["_id"]}, {"$set": {"totp_secret": secret}})
    _client, signed = sign_in_with_code(
        console_app, "lucia@example.com", next_code(secret, "lucia@example.com")
    )
    assert signed.status_code == 302
    stored = store.db().users.find_one({"_id": later["_id"]})["totp_secret"]
    assert stored.startswith("v1:") and secret not in stored


def test_a_person_who_owes_two_factor_gets_no_personal_token_before_turning_it_on(console_app):
    """An admin requires two-factor for marketers: until Marta turns it on she sees only her
    account page, and that page makes her no API token (it would reach the services without it)."""
    accounts.create_user("marta@bücher.example", "Marta", "marketer", PASSWORD)
    accounts.require_two_factor(["marketer"])
    client = sign_in_as(console_app, "marta@bücher.example", PASSWORD)
    assert client.get("/dashboard").headers["Location"].startswith("/account?enroll=1")
    assert 'class="token-form"' not in client.get("/account").get_data(as_text=True)
    refused = client.post(
        "/account/tokens", data={"csrf_token": csrf_of(client, "/account"), "name": "cli", "role": "marketer"}
    )
    assert refused.status_code == 403
    assert store.db().api_tokens.count_documents({}) == 0
