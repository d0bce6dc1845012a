"""People's accounts in headless Chromium against the console and the segments api as
processes, mail going to a local SMTP server: an admin invites a marketer, who sets a
password from the mailed link, turns on two-factor, signs in again with a code, makes
a personal API token that works on the segments API until revoked; the admin disables
the marketer and their open session ends at its next request."""

from __future__ import annotations

import datetime
import re

import pyotp
import pytest
import requests

from services.console import accounts
from shared import store
from tests.console.conftest import Stack, sideways
from tests.support import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADMIN_PASSWORD = "la jefa abre la tienda"
MARKETER_PASSWORD = "marta manda boletines cada lunes"


@pytest.fixture
def accounts_stack(service_env, segments_url, smtp_server) -> Stack:
    """The segments api and worker, and the console as a process sending mail through the
    mailer's SMTP settings to the local SMTP server."""
    from devstack import procs

    closed = f"http://127.0.0.1:{procs.free_port()}"
    urls = {"segments": segments_url, "campaigns": closed, "mailer": closed, "listener": closed}
    stack = Stack(service_env, urls)
    urls["console"] = service_env.start_api(
        "console",
        **stack.console_env(),
        VINCULO_MAILER_SMTP_PORT=smtp_server.port,
        VINCULO_MAILER_FROM_ADDRESS="equipo@tienda.example",
    )
    stack.smtp = smtp_server
    store.connect(service_env.mongo_uri)
    accounts.ensure_indexes()
    accounts.create_user("jefa@ejemplo.es", "Jefa Núñez", "admin", ADMIN_PASSWORD)
    yield stack
    service_env.stop_all()


def password_sign_in(page, console, email, password):
    page.goto(f"{console}/sign-in")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form.sign-in-password button.primary")


def test_invite_password_two_factor_token_and_disable(browser, accounts_stack, shots):
    console = accounts_stack.console
    admin = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB").new_page()
    password_sign_in(admin, console, "jefa@ejemplo.es", ADMIN_PASSWORD)
    admin.wait_for_url(re.compile(r".*/dashboard$"))
    admin.goto(f"{console}/admin/users")
    admin.fill("form[action$='/admin/users'] input[name=email]", "Marta@Bücher.example")
    admin.fill("form[action$='/admin/users'] input[name=name]", "Marta Núñez 📣")
    admin.select_option("form[action$='/admin/users'] select[name=role]", "marketer")
    admin.click("form[action$='/admin/users'] button.primary")
    admin.wait_for_url(re.compile(r".*sent=1$"))
    assert admin.locator("tr.user[data-email='marta@bücher.example']").count() == 1
    shots(admin, "admin-people")

    # The invitation arrives; its link opens the password page (a phone, 390 px wide).
    mail = wait_until(
        lambda: accounts_stack.smtp.mailbox.to("marta@xn--bcher-kva.example"), what="the invitation mail"
    )[0].parsed()
    body = mail.get_body(("plain",)).get_content()
    link = re.search(r"http://\S+/account/set-password/invite/[\w-]+", body).group(0)
    assert link.startswith(console)
    marta = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    marta.goto(link)
    marta.click("button[name=locale][value=es]")
    assert "Marta Núñez 📣" in marta.content()
    marta.fill("input[name=password]", "contraseña")  # too short: refused in Spanish
    marta.evaluate("document.querySelector('input[name=password]').removeAttribute('minlength')")
    marta.click("button.primary")
    assert "Al menos 12 caracteres." in marta.content()
    marta.fill("input[name=password]", MARKETER_PASSWORD)
    marta.click("button.primary")
    marta.wait_for_url(re.compile(r".*/sign-in\?done=password$"))
    password_sign_in(marta, console, "marta@bücher.example", MARKETER_PASSWORD)
    marta.wait_for_url(re.compile(r".*/dashboard$"))

    # Two-factor: the test is the authenticator app.
    marta.goto(f"{console}/account")
    marta.click("form[action$='/two-factor/start'] button")
    secret = marta.locator("code.totp-secret").inner_text().strip()
    assert sideways(marta) == []
    marta.fill("form[action$='/two-factor/confirm'] input[name=code]", pyotp.TOTP(secret).now())
    marta.click("form[action$='/two-factor/confirm'] button")
    assert marta.locator(".recovery-codes li").count() == accounts.RECOVERY_CODES
    shots(marta, "account-two-factor-phone")
    marta.click("header form[action$='/sign-out'] button")
    marta.wait_for_url(re.compile(r".*/sign-in$"))
    password_sign_in(marta, console, "marta@bücher.example", MARKETER_PASSWORD)
    marta.wait_for_url(re.compile(r".*/sign-in/code.*"))
    # A code works once: the one that turned it on is spent, so the next step's code.
    totp = pyotp.TOTP(secret)
    last = store.db().users.find_one({"email": "marta@bücher.example"})["totp_last_step"]
    step = max(last + 1, totp.timecode(datetime.datetime.now(datetime.UTC)))
    marta.fill("input[name=code]", totp.generate_otp(step))
    marta.click("button.primary")
    marta.wait_for_url(re.compile(r".*/dashboard$"))
    assert sideways(marta) == []

    # A personal token works against the segments API, and stops when revoked.
    marta.goto(f"{console}/account")
    marta.fill("form.token-form input[name=name]", "informe semanal")
    marta.select_option("form.token-form select[name=role]", "marketer")
    marta.click("form.token-form button.primary")
    token = marta.locator("code.new-token").inner_text().strip()
    assert token.startswith("vnt_")
    assert sideways(marta) == []
    segments = accounts_stack.urls["segments"]
    answer = requests.get(f"{segments}/customers", headers={"X-API-Key": token}, timeout=10)
    assert answer.status_code == 200, answer.text
    marta.goto(f"{console}/account")
    assert token not in marta.content()  # shown once
    marta.click("tr.token form button")
    wait_until(
        lambda: (
            requests.get(f"{segments}/customers", headers={"X-API-Key": token}, timeout=10).status_code == 401
        ),
        what="the revoked token refused",
    )

    # The admin disables her: her open session ends at its next request.
    admin.goto(f"{console}/admin/users")
    row = admin.locator("tr.user[data-email='marta@bücher.example']")
    assert row.locator("td").nth(4).inner_text() != "never"  # last activity shows
    row.locator("button[name=state][value=disabled]").click()
    admin.wait_for_url(re.compile(r".*/admin/users$"))
    marta.goto(f"{console}/segments")
    marta.wait_for_url(re.compile(r".*/sign-in\?next=.*"))
