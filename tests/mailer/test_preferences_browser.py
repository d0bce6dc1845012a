"""The preference center in headless Chromium (Debian's package, driven by
Playwright) against the real mailer and segments api processes and the local
SMTP server: a link from a received message, subscriptions changed in
Spanish, a double opt-in confirmed, the data downloaded, the person erased,
and the next send skipping them.

The api runs with the public URL https://mailer.example (as in the other
mailer tests); the test opens the same paths on the process's loopback URL."""

from __future__ import annotations

import json
import re

import pytest

from services.mailer.models import Delivery
from shared.models import ConsentState, Customer, SuppressedContact, contact_hash
from tests.mailer.conftest import create_template, make_customer, send_requested
from tests.support import CM_KEY, MARKETER_KEY, Timeline, wait_until

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PUBLIC = "https://mailer.example"


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = chromium.new_context(accept_downloads=True, locale="es-ES")
        yield context.new_page()
        context.close()
        chromium.close()


@pytest.fixture
def apis(service_env, mailer_env):
    segments = service_env.start_api("segments")
    listener = service_env.start_api("listener")  # "my data" asks it for the customer's mentions
    mailer = service_env.start_api(
        "mailer",
        **mailer_env,
        VINCULO_MAILER_SEGMENTS_URL=segments,
        VINCULO_MAILER_SEGMENTS_API_KEY=MARKETER_KEY,
        VINCULO_MAILER_LISTENER_URL=listener,
        VINCULO_MAILER_LISTENER_API_KEY=CM_KEY,
    )
    return mailer, segments


def link_in(received, prefix: str) -> str:
    text = received.parsed().get_body(("plain",)).get_content()
    return re.search(re.escape(PUBLIC) + prefix + r"\S+", text).group(0)


def test_customer_manages_preferences_opt_in_data_and_erasure_in_chromium(
    apis, browser, api, events, sender_for, smtp_server, tmp_path, service_env
):
    mailer, _ = apis
    timeline = Timeline(service_env)  # segments' handler writes the timeline from the mailer's events
    template = create_template(
        api,
        variants={
            "es": {
                "subject": "Novedades, {{ first_name }}",
                "text": "Hola {{ first_name }}\nTus preferencias: {{ preferences_url }}\nBaja: {{ unsubscribe_url }}\n",
            }
        },
    )
    customer = make_customer(
        email="lucia@example.com", consent={("email", "newsletter"): "granted"}, events=events
    )
    sender = sender_for(frequency_cap=0)
    sender.on_send_requested(send_requested(template["id"], [customer.id], campaign_id="first"))
    [received] = smtp_server.mailbox.to("lucia@example.com")
    center_url = link_in(received, "/p/").replace(PUBLIC, mailer)

    # change subscriptions in Spanish
    page = browser
    page.goto(center_url)
    assert page.locator("h1").inner_text() == "Tus preferencias"
    assert page.locator("#c-email-newsletter").is_checked()
    page.uncheck("#c-email-newsletter")
    page.check("#c-email-promotions")
    page.click("#save")
    assert "Cambios guardados" in page.locator("main").inner_text()
    states = {(s.channel, s.topic): s.status for s in ConsentState.objects(customer_id=customer.id)}
    assert states == {("email", "newsletter"): "revoked", ("email", "promotions"): "granted"}
    page.click("a[hreflang=en]")
    assert page.locator("h1").inner_text() == "Your preferences"

    # double opt-in from the public form: pending until the emailed link is confirmed
    page.goto(f"{mailer}/subscribe")
    page.fill("#email", "nuevo@example.com")
    page.click("#submit")
    assert "Revisa tu correo" in page.locator("main").inner_text()
    wait_until(lambda: smtp_server.mailbox.to("nuevo@example.com"), timeout=30)
    newcomer = Customer.objects.get(email="nuevo@example.com")
    assert ConsentState.objects.get(customer_id=newcomer.id).status == "pending"
    sender.on_send_requested(send_requested(template["id"], [newcomer.id], campaign_id="pending"))
    assert Delivery.objects.get(campaign_id="pending").reason == "no_consent"
    page.goto(link_in(smtp_server.mailbox.to("nuevo@example.com")[0], "/c/").replace(PUBLIC, mailer))
    page.click("#submit")
    assert "Suscripción confirmada" in page.locator("main").inner_text()
    assert ConsentState.objects.get(customer_id=newcomer.id).status == "granted"
    sender.on_send_requested(send_requested(template["id"], [newcomer.id], campaign_id="confirmed"))
    assert Delivery.objects.get(campaign_id="confirmed").status == "sent"

    # download my data
    timeline.deliver()
    page.goto(center_url + "?lang=es")
    with page.expect_download() as download_info:
        page.click("#download")
    saved = tmp_path / "my-data.json"
    download_info.value.save_as(saved)
    data = json.loads(saved.read_text())
    assert data["profile"]["email"] == "lucia@example.com"
    assert {(e["topic"], e["status"], e["source"]) for e in data["consent_history"]} >= {
        ("newsletter", "granted", "api"),
        ("newsletter", "revoked", "preference_center"),
    }
    assert any(i["kind"] == "consent_changed" for i in data["interactions"])
    assert data["mentions"] == []

    # erase me
    page.click("#erase")
    page.click("#submit")
    assert "Tus datos se han borrado" in page.locator("main").inner_text()
    erased = Customer._get_collection().find_one({"_id": customer.id})
    assert erased["erased"] is True and "email" not in erased and "first_name" not in erased
    assert SuppressedContact.objects.get(hash=contact_hash("email", "lucia@example.com")).reason == "erased"
    assert ConsentState.objects.get(customer_id=customer.id, topic="promotions").status == "revoked"
    # the link no longer opens anything
    page.goto(center_url)
    assert "no es válido" in page.locator("main").inner_text()

    # the next send skips that person
    sender.on_send_requested(
        send_requested(template["id"], [customer.id], campaign_id="after-erase", topic="promotions")
    )
    assert Delivery.objects.get(campaign_id="after-erase").status == "skipped"
    assert len(smtp_server.mailbox.to("lucia@example.com")) == 1
