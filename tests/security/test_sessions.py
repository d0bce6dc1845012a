"""Issue 15, finding 4: the console's session is server-side (the cookie carries no key,
role or name), ends at sign-out, after idling and at its absolute limit; wrong passwords
and keys are throttled at sign-in and on the APIs; no key, password or hash shows in a
cookie, a log line or an answer."""

from __future__ import annotations

import datetime
import logging
import re

import pytest
import requests

from services.console import accounts
from shared import store
from tests.console.conftest import in_process_console, listener_url  # noqa: F401 - fixtures
from tests.console.test_pages import csrf_of, signed_in, token
from tests.support import CM_KEY, MARKETER_KEY, wait_until

PASSWORD = "la sesión vive en el servidor"


@pytest.fixture
def console_app(service_env, listener_url):  # noqa: F811 - the fixture above
    return in_process_console(service_env, listener_url=listener_url)


def cookie_payload(app, client) -> tuple[str, dict]:
    raw = client.get_cookie("vinculo_console").value
    return raw, app.session_interface.get_signing_serializer(app).loads(raw)


def sign_in_person(app, email, password):
    client = app.test_client()
    answer = client.post("/sign-in", data={"csrf_token": token(client), "email": email, "password": password})
    return client, answer


def test_the_cookie_holds_an_opaque_id_and_no_key_role_or_name(console_app):
    client = signed_in(console_app, MARKETER_KEY, name="Marta")
    raw, payload = cookie_payload(console_app, client)
    assert set(payload) <= {"sid", "csrf", "locale", "_permanent"}, payload
    for secret in (MARKETER_KEY, "marketer", "Marta"):
        assert secret not in raw and secret not in str(payload)
    stored = store.db().console_sessions.find_one({"_id": accounts.token_hash(payload["sid"])})
    assert stored["role"] == "marketer" and stored["user_name"] == "Marta"
    assert MARKETER_KEY not in str(stored)
    assert store.db().console_sessions.find_one({"_id": payload["sid"]}) is None  # only the hash is kept


def test_a_cookie_replayed_after_sign_out_opens_nothing(console_app, listener_url):  # noqa: F811
    client = signed_in(console_app, CM_KEY, name="Carla")
    raw, payload = cookie_payload(console_app, client)
    credential = accounts.SESSION_PREFIX + payload["sid"]
    assert requests.get(f"{listener_url}/whoami", headers={"X-API-Key": credential}, timeout=5).json() == {
        "role": "community_manager"
    }  # what the console presents for this session
    assert client.post("/sign-out", data={"csrf_token": csrf_of(client)}).status_code == 302
    replay = console_app.test_client()
    replay.set_cookie("vinculo_console", raw)
    assert replay.get("/listening/mentions").headers["Location"].startswith("/sign-in")
    wait_until(
        lambda: (
            requests.get(f"{listener_url}/whoami", headers={"X-API-Key": credential}, timeout=5).status_code
            == 401
        ),
        what="the ended session refused by the api",
    )


@pytest.mark.parametrize("limit", ["idle_expires_at", "expires_at"])
def test_a_session_ends_when_idle_and_at_its_absolute_limit(console_app, limit):
    client = signed_in(console_app, CM_KEY)
    _, payload = cookie_payload(console_app, client)
    assert client.get("/dashboard").status_code == 200
    store.db().console_sessions.update_one(
        {"_id": accounts.token_hash(payload["sid"])},
        {"$set": {limit: store.utcnow() - datetime.timedelta(seconds=1)}},
    )
    assert client.get("/dashboard").headers["Location"].startswith("/sign-in")


def test_the_idle_limit_moves_with_activity_but_never_past_the_absolute_one(console_app):
    client = signed_in(console_app, CM_KEY)
    _, payload = cookie_payload(console_app, client)
    digest = accounts.token_hash(payload["sid"])
    session = store.db().console_sessions.find_one({"_id": digest})
    assert session["expires_at"] - session["created_at"] == datetime.timedelta(hours=12)
    assert session["idle_expires_at"] - session["created_at"] == datetime.timedelta(minutes=60)
    soon = (store.utcnow() + datetime.timedelta(minutes=5)).replace(microsecond=0)  # BSON keeps milliseconds
    store.db().console_sessions.update_one(
        {"_id": digest},
        {"$set": {"last_seen_at": store.utcnow() - datetime.timedelta(minutes=50), "expires_at": soon}},
    )
    assert client.get("/dashboard").status_code == 200
    assert store.db().console_sessions.find_one({"_id": digest})["idle_expires_at"] == soon


def test_sign_in_is_throttled_per_account_then_per_client(console_app):
    accounts.create_user("marta@ejemplo.es", "Marta", "marketer", PASSWORD)
    accounts.create_user("luis@ejemplo.es", "Luis", "marketer", PASSWORD)
    for _ in range(accounts.ACCOUNT_FAILURES):
        _, wrong = sign_in_person(console_app, "marta@ejemplo.es", "no es la contraseña")
        assert wrong.status_code == 401
    _, right = sign_in_person(console_app, "marta@ejemplo.es", PASSWORD)
    assert right.status_code == 429  # even the right password waits now
    assert "Demasiados intentos" in right.get_data(as_text=True)
    _, other = sign_in_person(console_app, "luis@ejemplo.es", PASSWORD)
    assert other.status_code == 302  # another account from the same client still may
    for n in range(accounts.CLIENT_FAILURES - accounts.ACCOUNT_FAILURES):
        _, wrong = sign_in_person(console_app, f"nadie{n}@ejemplo.es", "no es la contraseña")
        assert wrong.status_code == 401
    _, blocked = sign_in_person(console_app, "luis@ejemplo.es", PASSWORD)
    assert blocked.status_code == 429  # this client tried too many accounts


def test_wrong_api_keys_at_sign_in_are_throttled_per_client(console_app):
    client = console_app.test_client()
    for n in range(accounts.CLIENT_FAILURES):
        assert (
            client.post("/sign-in", data={"csrf_token": token(client), "api_key": f"guess-{n}"}).status_code
            == 401
        )
    assert client.post("/sign-in", data={"csrf_token": token(client), "api_key": CM_KEY}).status_code == 429


def test_wrong_api_keys_on_an_api_are_throttled_per_client_address(listener_url):  # noqa: F811
    from shared.http.auth import FAILURE_LIMIT

    for n in range(FAILURE_LIMIT):
        assert (
            requests.get(f"{listener_url}/whoami", headers={"X-API-Key": f"guess-{n}"}, timeout=5).status_code
            == 401
        )
    refused = requests.get(f"{listener_url}/whoami", headers={"X-API-Key": CM_KEY}, timeout=5)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.json()["error"] == "rate_limited" and set(refused.json()) == {
        "error",
        "message",
        "details",
    }
    assert requests.get(f"{listener_url}/healthz", timeout=5).status_code == 200  # public pages still answer


def test_a_throttled_address_keeps_its_live_sessions_and_tokens(console_app, listener_url):  # noqa: F811
    """The console calls every API from one address for all its people: wrong keys typed at
    its sign-in must not block the sessions of everyone else."""
    from shared.http.auth import FAILURE_LIMIT

    carla = signed_in(console_app, CM_KEY, name="Carla")
    for n in range(FAILURE_LIMIT):
        requests.get(f"{listener_url}/whoami", headers={"X-API-Key": f"guess-{n}"}, timeout=5)
    assert requests.get(f"{listener_url}/whoami", headers={"X-API-Key": CM_KEY}, timeout=5).status_code == 429
    assert (
        requests.get(f"{listener_url}/whoami", headers={"X-API-Key": "vns_guess"}, timeout=5).status_code
        == 429
    )
    assert carla.get("/listening/mentions").status_code == 200  # through the console, with its session
    keyed = console_app.test_client()
    refused = keyed.post("/sign-in", data={"csrf_token": token(keyed), "api_key": CM_KEY})
    assert refused.status_code == 429 and "Demasiados intentos" in refused.get_data(as_text=True)


def test_no_key_password_or_hash_in_a_cookie_log_line_or_answer(
    console_app,
    service_env,
    listener_url,  # noqa: F811
    caplog,
):
    caplog.set_level(logging.DEBUG)
    # As shared.logs.configure sets it in every process: the driver's command log (every
    # document written, at DEBUG) stays off.
    caplog.set_level(logging.WARNING, logger="pymongo")
    admin = accounts.create_user("jefa@ejemplo.es", "Jefa", "admin", PASSWORD)
    person, answer = sign_in_person(console_app, "jefa@ejemplo.es", PASSWORD)
    assert answer.status_code == 302
    made = person.post(
        "/account/tokens", data={"csrf_token": csrf_of(person, "/account"), "name": "t", "role": "analyst"}
    )
    secret = re.search(r"vnt_[\w-]+", made.get_data(as_text=True)).group(0)
    assert (
        requests.get(f"{listener_url}/mentions", headers={"X-API-Key": secret}, timeout=5).status_code == 200
    )
    keyed = signed_in(console_app, CM_KEY, name="Carla")
    pages = "".join(
        client.get(path).get_data(as_text=True)
        for client in (person, keyed)
        for path in ("/dashboard", "/account", "/admin/users")
    )
    cookies = "".join(cookie_payload(console_app, client)[0] for client in (person, keyed))
    answers = requests.get(f"{listener_url}/whoami", headers={"X-API-Key": secret}, timeout=5).text
    service_logs = "".join(path.read_text(errors="replace") for path in service_env.tmp_path.glob("*.log"))
    assert "jefa@ejemplo.es" in pages and '"user_name": "Jefa"' in service_logs  # the person is recorded
    assert str(admin["_id"]) in service_logs
    hash_prefix = admin["password_hash"][:30]
    for where, text in (
        ("page", pages),
        ("cookie", cookies),
        ("answer", answers),
        ("service log", service_logs),
        ("console log", caplog.text),
    ):
        for secret_text in (PASSWORD, hash_prefix, "$argon2id$", CM_KEY, secret):
            if where == "page" and secret_text == secret:
                continue  # shown once, on the page that created it (checked in test_accounts)
            assert secret_text not in text, (where, secret_text)


def test_a_person_who_owes_two_factor_reaches_no_service_with_a_session_or_an_older_token(
    console_app,
    listener_url,  # noqa: F811
):
    """The console keeps Marta on her account page once an admin requires two-factor for
    marketers; the services must not answer her session id or a token she made before the
    rule, until two-factor is no longer owed."""
    marta = accounts.create_user("marta@ejemplo.es", "Marta", "marketer", PASSWORD)
    older_token = accounts.create_token(marta, "cli", "marketer")
    accounts.require_two_factor(["marketer"])
    client, _ = sign_in_person(console_app, "marta@ejemplo.es", PASSWORD)
    _, payload = cookie_payload(console_app, client)
    session_key = accounts.SESSION_PREFIX + payload["sid"]

    def status(key):
        return requests.get(f"{listener_url}/whoami", headers={"X-API-Key": key}, timeout=5).status_code

    assert status(session_key) == 401
    assert status(older_token) == 401
    accounts.require_two_factor([])
    wait_until(
        lambda: status(session_key) == 200 and status(older_token) == 200,
        what="her session and token answered once two-factor is no longer owed",
    )
