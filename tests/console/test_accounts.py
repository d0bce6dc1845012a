"""People's accounts in the console (in-process, Flask test client, in front of a real
listener api and the store): users, the password policy, tokens people own, links
mailed to a local SMTP server, admin pages, the first-admin command."""

from __future__ import annotations

import datetime
import re
import subprocess
import sys

import pytest
import requests

from services.console import accounts
from shared import store
from tests.console.test_pages import csrf_of, token
from tests.support import ROOT, wait_until

NAME_RTL = "مريم الحسيني"


def sign_in_as(app, email, password, locale="en"):
    client = app.test_client()
    csrf = token(client)
    client.post("/locale", data={"csrf_token": csrf, "locale": locale, "next": "/sign-in"})
    answer = client.post("/sign-in", data={"csrf_token": csrf, "email": email, "password": password})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


@pytest.fixture
def people(console_app):
    """An admin, a marketer and an analyst, active with passwords (in the test's store)."""
    made = {}
    for role, email, name in (
        ("admin", "ñandú@ejemplo.es", "Núñez Ñandú"),
        ("marketer", "marta@bücher.example", "Marta 🚀"),
        ("analyst", "ana@example.com", NAME_RTL),
    ):
        made[role] = accounts.create_user(email, name, role, f"una frase larga de {role} 2026")
    return made


def test_the_password_policy_is_length_and_a_common_list_not_composition():
    for weak, why in (
        ("short1!", "too_short"),
        ("x" * 129, "too_long"),
        ("QWERTY123456", "common"),
        ("ana@example.com", "common"),
        ("abc\u202edef12345", "bad_character"),
    ):
        with pytest.raises(accounts.Refused) as refused:
            accounts.check_password(weak, email="ana@example.com", name="Ana")
        assert refused.value.code == why, weak
    assert "qwerty123456" in accounts.common_passwords()
    # Any Unicode, spaces, no required digit or symbol: a passphrase of words is fine.
    assert accounts.check_password("el ñandú corre por la pampa 🐦") == "el ñandú corre por la pampa 🐦"
    assert accounts.check_password("z" * 128)


def test_users_take_international_addresses_and_refuse_bad_names(mongo_uri):
    from services.console.accounts import ensure_indexes

    ensure_indexes()
    user = accounts.create_user("Ñandú@Ejemplo.ES", "  Núñez  ", "marketer", "una frase larga de prueba")
    assert user["email"] == "ñandú@ejemplo.es" and user["name"] == "Núñez" and user["state"] == "active"
    assert accounts.password_matches(user["password_hash"], "una frase larga de prueba")
    assert user["password_hash"].startswith("$argon2id$")
    rtl = accounts.create_user("user@bücher.example", NAME_RTL, "analyst")
    assert rtl["state"] == "invited" and rtl["password_hash"] is None
    for email, name, role, field in (
        ("ñandú@ejemplo.es", "Otra", "analyst", "email"),
        ("not-an-address", "Otra", "analyst", "email"),
        ("otra@example.com", "bad\u202ename", "analyst", "name"),
        ("otra@example.com", "Nul\x00", "analyst", "name"),
        ("otra@example.com", "Otra", "superuser", "role"),
    ):
        with pytest.raises(accounts.Refused) as refused:
            accounts.create_user(email, name, role)
        assert refused.value.field == field
    assert store.db().users.count_documents({}) == 2  # nothing half-written


def test_a_person_signs_in_and_an_unknown_email_reads_like_a_wrong_password(console_app, people):
    client = console_app.test_client()
    csrf = token(client)
    client.post("/locale", data={"csrf_token": csrf, "locale": "en", "next": "/sign-in"})
    unknown = client.post(
        "/sign-in", data={"csrf_token": csrf, "email": "nadie@example.com", "password": "x" * 14}
    )
    wrong = client.post(
        "/sign-in", data={"csrf_token": csrf, "email": "marta@bücher.example", "password": "x" * 14}
    )
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.get_data() == wrong.get_data()
    signed = sign_in_as(console_app, "MARTA@bücher.example", "una frase larga de marketer 2026")
    page = signed.get("/dashboard").get_data(as_text=True)
    assert "Marta 🚀" in page and "marketer" in page
    assert store.db().users.find_one({"email": "marta@bücher.example"})["last_sign_in_at"] is not None


def test_an_analyst_cannot_create_a_token_with_a_higher_role(console_app, people):
    analyst = sign_in_as(console_app, "ana@example.com", "una frase larga de analyst 2026")
    for role in ("marketer", "admin", "community_manager"):
        refused = analyst.post(
            "/account/tokens", data={"csrf_token": csrf_of(analyst, "/account"), "name": "mío", "role": role}
        )
        assert refused.status_code == 422
        assert "higher role" in refused.get_data(as_text=True)
    assert store.db().api_tokens.count_documents({}) == 0
    made = analyst.post(
        "/account/tokens",
        data={
            "csrf_token": csrf_of(analyst, "/account"),
            "name": "informes",
            "role": "analyst",
            "days": "30",
        },
    )
    assert made.status_code == 200 and re.search(r"vnt_[\w-]{40,}", made.get_data(as_text=True))
    stored = store.db().api_tokens.find_one({})
    assert stored["role"] == "analyst" and stored["user_name"] == NAME_RTL
    assert stored["expires_at"] - stored["created_at"] == datetime.timedelta(days=30)


def test_a_personal_token_works_on_the_api_records_the_person_and_stops_when_revoked(
    console_app, people, listener_url
):
    marketer = sign_in_as(console_app, "marta@bücher.example", "una frase larga de marketer 2026")
    made = marketer.post(
        "/account/tokens",
        data={"csrf_token": csrf_of(marketer, "/account"), "name": "script", "role": "marketer"},
    )
    secret = re.search(r"vnt_[\w-]+", made.get_data(as_text=True)).group(0)
    assert secret not in marketer.get("/account").get_data(as_text=True)  # shown once
    assert store.db().api_tokens.find_one({"_id": secret}) is None  # stored hashed
    who = requests.get(f"{listener_url}/whoami", headers={"X-API-Key": secret}, timeout=5)
    assert who.status_code == 200 and who.json() == {"role": "marketer"}
    assert store.db().api_tokens.find_one({})["last_used_at"] is not None
    digest = store.db().api_tokens.find_one({})["_id"]
    marketer.post(f"/account/tokens/{digest}/revoke", data={"csrf_token": csrf_of(marketer, "/account")})
    wait_until(
        lambda: (
            requests.get(f"{listener_url}/whoami", headers={"X-API-Key": secret}, timeout=5).status_code
            == 401
        ),
        what="the revoked token to be refused",
    )


def test_disabling_a_person_ends_their_open_session_and_tokens(console_app, people, listener_url):
    marketer = sign_in_as(console_app, "marta@bücher.example", "una frase larga de marketer 2026")
    made = marketer.post(
        "/account/tokens",
        data={"csrf_token": csrf_of(marketer, "/account"), "name": "script", "role": "analyst"},
    )
    secret = re.search(r"vnt_[\w-]+", made.get_data(as_text=True)).group(0)
    assert marketer.get("/dashboard").status_code == 200
    admin = sign_in_as(console_app, "ñandú@ejemplo.es", "una frase larga de admin 2026")
    listing = admin.get("/admin/users").get_data(as_text=True)
    assert "marta@bücher.example" in listing and "$argon2" not in listing
    user_id = str(people["marketer"]["_id"])
    assert (
        admin.post(
            f"/admin/users/{user_id}/state",
            data={"csrf_token": csrf_of(admin, "/admin/users"), "state": "disabled"},
        ).status_code
        == 302
    )
    assert marketer.get("/dashboard").headers["Location"].startswith("/sign-in")  # its next request
    wait_until(
        lambda: (
            requests.get(f"{listener_url}/whoami", headers={"X-API-Key": secret}, timeout=5).status_code
            == 401
        ),
        what="the disabled person's token refused",
    )
    again = console_app.test_client()
    csrf = token(again)
    assert (
        again.post(
            "/sign-in",
            data={
                "csrf_token": csrf,
                "email": "marta@bücher.example",
                "password": "una frase larga de marketer 2026",
            },
        ).status_code
        == 401
    )


def test_only_an_admin_opens_the_people_pages(console_app, people):
    marketer = sign_in_as(console_app, "marta@bücher.example", "una frase larga de marketer 2026")
    assert marketer.get("/admin/users").status_code == 403
    assert (
        marketer.post(
            f"/admin/users/{people['analyst']['_id']}/role",
            data={"csrf_token": csrf_of(marketer), "role": "admin"},
        ).status_code
        == 403
    )
    assert store.db().users.find_one({"_id": people["analyst"]["_id"]})["role"] == "analyst"


def test_an_invitation_is_mailed_single_use_and_expires(
    service_env, listener_url, people, smtp_server, monkeypatch
):
    from tests.console.conftest import in_process_console

    # The console reads the mailer's SMTP settings from its environment (as a deployment's
    # one environment configures every container): here, this process's.
    monkeypatch.setenv("VINCULO_MAILER_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("VINCULO_MAILER_FROM_ADDRESS", "equipo@tienda.example")
    app = in_process_console(service_env, listener_url=listener_url)
    admin = sign_in_as(app, "ñandú@ejemplo.es", "una frase larga de admin 2026")
    sent = admin.post(
        "/admin/users",
        data={
            "csrf_token": csrf_of(admin, "/admin/users"),
            "email": "Carla@Bücher.example",
            "name": "Carla Núñez",
            "role": "community_manager",
        },
    )
    assert sent.status_code == 302 and sent.headers["Location"].endswith("sent=1")
    # A non-ASCII local part goes out with SMTPUTF8 (the local server offers it).
    again = admin.post(
        "/admin/users",
        data={
            "csrf_token": csrf_of(admin, "/admin/users"),
            "email": "josé@ejemplo.es",
            "name": "José",
            "role": "analyst",
        },
    )
    assert again.headers["Location"].endswith("sent=1")
    assert wait_until(lambda: smtp_server.mailbox.to("josé@ejemplo.es"), what="the mail to josé")
    mails = smtp_server.mailbox.to("carla@xn--bcher-kva.example")
    mail = mails[0].parsed()
    assert mail["From"].addresses[0].addr_spec == "equipo@tienda.example"
    body = mail.get_body(("plain",)).get_content()
    assert "Carla Núñez" in body
    link = re.search(r"http://127\.0\.0\.1:8000(/account/set-password/invite/[\w-]+)", body).group(1)
    visitor = app.test_client()
    page = visitor.get(link)
    assert page.status_code == 200 and "Carla Núñez" in page.get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    weak = visitor.post(link, data={"csrf_token": csrf, "password": "password1234"})
    assert weak.status_code == 422  # refused, and the link still works
    done = visitor.post(link, data={"csrf_token": csrf, "password": "carla cuida la comunidad"})
    assert done.status_code == 302
    assert (
        visitor.post(link, data={"csrf_token": csrf, "password": "otra frase larga distinta"}).status_code
        == 410
    )
    assert visitor.get(link).status_code == 410  # single use
    sign_in_as(app, "carla@bücher.example", "carla cuida la comunidad")
    # A reset link expires: the stored expiry in the past makes it refused.
    user = accounts.find_user("carla@bücher.example")
    reset = accounts.issue_link_token(user, "reset")
    assert visitor.get(f"/account/set-password/reset/{reset}").status_code == 200
    assert visitor.get(f"/account/set-password/invite/{reset}").status_code == 410  # purpose-bound
    store.db().account_tokens.update_one(
        {"_id": accounts.token_hash(reset)},
        {"$set": {"expires_at": store.utcnow() - datetime.timedelta(seconds=1)}},
    )
    assert visitor.get(f"/account/set-password/reset/{reset}").status_code == 410


def test_the_first_admin_is_created_from_the_command_line(service_env):
    env = service_env.env()
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.console",
            "users",
            "create",
            "--email",
            "jefa@ejemplo.es",
            "--role",
            "admin",
            "--name",
            "Jefa",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    password = re.search(r"password: (\S+)", made.stdout).group(1)
    store.connect(service_env.mongo_uri)
    user = accounts.find_user("jefa@ejemplo.es")
    assert user["role"] == "admin" and user["state"] == "active"
    assert accounts.password_matches(user["password_hash"], password)
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.console",
            "users",
            "create",
            "--email",
            "jefa@ejemplo.es",
            "--role",
            "admin",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2 and "email refused: taken" in again.stderr


def test_a_reset_link_goes_only_to_an_active_account_and_the_page_answers_the_same(
    service_env, listener_url, people, smtp_server, monkeypatch
):
    from tests.console.conftest import in_process_console

    # The console reads the mailer's SMTP settings from its environment: here, this process's.
    monkeypatch.setenv("VINCULO_MAILER_SMTP_PORT", str(smtp_server.port))
    app = in_process_console(service_env, listener_url=listener_url)
    client = app.test_client()
    csrf = token(client)
    known = client.post("/account/forgot", data={"csrf_token": csrf, "email": "Marta@Bücher.example"})
    unknown = client.post("/account/forgot", data={"csrf_token": csrf, "email": "nadie@example.com"})
    assert known.status_code == unknown.status_code == 200 and known.get_data() == unknown.get_data()
    mail = wait_until(lambda: smtp_server.mailbox.to("marta@xn--bcher-kva.example"), what="the reset mail")[0]
    link = re.search(
        r"http://\S+(/account/set-password/reset/[\w-]+)", mail.parsed().get_body(("plain",)).get_content()
    ).group(1)
    assert len(smtp_server.mailbox.snapshot()) == 1  # nothing for the unknown address
    page = client.get(link).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert (
        client.post(link, data={"csrf_token": csrf, "password": "marta cambia su contraseña"}).status_code
        == 302
    )
    assert client.get(link).status_code == 410  # used
    refused = app.test_client()
    assert (
        refused.post(
            "/sign-in",
            data={
                "csrf_token": token(refused),
                "email": "marta@bücher.example",
                "password": "una frase larga de marketer 2026",
            },
        ).status_code
        == 401
    )
    sign_in_as(app, "marta@bücher.example", "marta cambia su contraseña")
