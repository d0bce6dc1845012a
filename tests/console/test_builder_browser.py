"""The block editor in headless Chromium against the real services (issue 18's done-when):
a marketer composes an e-mail from blocks in Spanish on a phone, previews it at phone width,
sends a test, publishes, and a campaign sends it; the message received, rendered at 390 px,
has no horizontal scroll and greets the customer by a name with accents."""

from __future__ import annotations

import re

import pytest
import requests
from bson import json_util

from shared import store
from tests.console.conftest import sideways
from tests.console.test_browser import sign_in
from tests.support import MARKETER_KEY, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = (390, 844)
IMAGE = "http://127.0.0.1:9/otono.png"  # loopback, nothing listens: the alt text shows


def audience(stack, names: list[str]) -> str:
    """Customers in Logroño with newsletter consent, and a segment of them."""
    from shared.models import Customer, Segment

    store.connect(stack.env.mongo_uri)
    ids = (
        Customer._get_collection()
        .insert_many(
            [
                {
                    "email": f"cliente{i}@ejemplo.es",
                    "first_name": name,
                    "city": "Logroño",
                    "locale": "es",
                    "erased": False,
                }
                for i, name in enumerate(names)
            ]
        )
        .inserted_ids
    )
    for customer_id in ids:
        granted = requests.post(
            f"{stack.urls['mailer']}/customers/{customer_id}/consents",
            headers={"X-API-Key": MARKETER_KEY},
            timeout=10,
            json={"channel": "email", "topic": "newsletter", "status": "granted"},
        )
        assert granted.status_code in (200, 201), granted.text
    segment = Segment(name="Logroño", kind="dynamic", compiled=json_util.dumps({"city": "Logroño"})).save()
    return str(segment.id)


def add_block(page, kind: str, moves_up: int = 1) -> str:
    """Add a block at the end, then move it above the footer; its path."""
    page.select_option("select[name=add]", kind)
    with page.expect_navigation():
        page.click("#add-block")
    path = page.locator("form#blocks-form > .blocks > fieldset.block").last.get_attribute("data-path")
    for _ in range(moves_up):
        with page.expect_navigation():
            page.click(f'button[value="up:{path}"]')
        path = str(int(path) - 1)
    assert page.get_attribute(f"#block-{path}", "data-type") == kind
    return path


def test_a_marketer_composes_in_spanish_on_a_phone_previews_tests_publishes_and_a_campaign_sends_it(
    stack, browser, shots
):
    segment_id = audience(stack, ["Begoña", "Íñigo"])
    page = sign_in(browser, stack.console, MARKETER_KEY, "Marta", locale="es", viewport=PHONE)
    page.goto(f"{stack.console}/templates")
    page.click("text=Nuevo correo con bloques")
    shots(page, "builder-gallery")
    page.fill("li.card:first-child input[name=name]", "Otoño en Logroño")
    with page.expect_navigation():
        page.click("#start-blank")
    assert re.search(r"/templates/[0-9a-f]{24}/blocks\?lang=es$", page.url)
    assert [page.get_attribute(f"#block-{i}", "data-type") for i in range(3)] == ["heading", "text", "footer"]
    assert sideways(page) == []

    # The heading and the text, with the first name picked from the list of fields.
    page.fill("input[name=subject]", "Novedades de otoño")
    page.fill('input[name="b.0.text"]', "¡Hola!")
    page.fill('textarea[name="b.1.text"]', "Te esperamos en la tienda, ")
    page.locator('textarea[name="b.1.text"]').evaluate(
        "t => t.setSelectionRange(t.value.length, t.value.length)"
    )
    page.select_option('select[data-merge-into="b.1.text"]', "{{first_name}}")
    assert page.input_value('textarea[name="b.1.text"]') == "Te esperamos en la tienda, {{first_name}}"
    page.select_option('select[data-merge-into="b.0.text"]', "{{first_name}}")  # at the cursor: the end
    assert page.input_value('input[name="b.0.text"]') == "¡Hola!{{first_name}}"
    page.fill('input[name="b.0.text"]', "¡Hola, {{first_name}}!")
    page.fill('textarea[name="b.2.text"]', "Tienda Núñez · Calle Mayor 1, Logroño")
    with page.expect_navigation():
        page.click("#save-draft")

    # An image (a bad address first: the error names the block), a button, two columns.
    image = add_block(page, "image")
    page.fill(f'input[name="b.{image}.src"]', "ftp://ejemplo.es/otono.png")
    page.fill(f'input[name="b.{image}.alt"]', "Hojas de otoño")
    page.click("#save-draft")
    error = page.locator(f'.field-error[data-block="{image}"]')
    assert (
        error.inner_text()
        == "bloque 3 (imagen): la dirección de la imagen debe empezar por http:// o https://"
    )
    assert page.input_value(f'input[name="b.{image}.alt"]') == "Hojas de otoño"  # what was typed is kept
    shots(page, "builder-error")
    page.fill(f'input[name="b.{image}.src"]', IMAGE)
    with page.expect_navigation():
        page.click("#save-draft")
    button = add_block(page, "button")
    page.fill(f'input[name="b.{button}.text"]', "Ver la colección")
    page.fill(f'input[name="b.{button}.url"]', "https://tienda.example/otono?n={{first_name}}")
    with page.expect_navigation():
        page.click("#save-draft")
    columns = add_block(page, "columns")
    page.fill(f'textarea[name="b.{columns}.c0.0.text"]', "Abrigos desde 49 €")
    page.fill(f'textarea[name="b.{columns}.c1.0.text"]', "Botas desde 39 €")
    # duplicate then remove a block: the order is what the page shows
    with page.expect_navigation():
        page.click(f'button[value="dup:{button}"]')
    assert page.locator("fieldset.block.block-button").count() == 2
    with page.expect_navigation():
        page.click(f'button[value="del:{int(button) + 1}"]')
    kinds = page.eval_on_selector_all(
        "form#blocks-form > .blocks > fieldset.block", "els => els.map(e => e.dataset.type)"
    )
    assert kinds == ["heading", "text", "image", "button", "columns", "footer"]
    # the columns' texts were saved with the duplicate click
    assert page.input_value(f'textarea[name="b.{columns}.c1.0.text"]') == "Botas desde 39 €"
    assert sideways(page) == []
    shots(page, "builder-blocks")

    # Preview at phone width (the sample customer is Lucía) and as plain text.
    page.click('#preview a[data-view="phone"]')
    assert page.get_attribute(".frames", "data-view") == "phone"
    assert page.locator("#preview-frame").evaluate("f => f.getBoundingClientRect().width") <= 390
    frame = page.frame_locator("#preview-frame")
    assert "¡Hola, Lucía!" in frame.locator("body").inner_text()
    assert page.inner_text("#preview-subject") == "Novedades de otoño"
    page.click('#preview a[data-view="text"]')
    text = page.inner_text("#preview-text")
    assert "Te esperamos en la tienda, Lucía" in text and "Darse de baja: " in text
    shots(page, "builder-preview-phone")

    # A test to oneself, through the local SMTP server.
    page.fill("input[name=to]", "marta@ejemplo.es")
    with page.expect_navigation():
        page.click("#send-test")
    assert page.inner_text("#test-sent") == "Enviado a marta@ejemplo.es."
    wait_until(lambda: stack.smtp.mailbox.to("marta@ejemplo.es"), what="the test e-mail")
    test_mail = stack.smtp.mailbox.to("marta@ejemplo.es")[0].parsed()
    assert test_mail["X-Vinculo-Test"] == "1" and test_mail["Subject"] == "Novedades de otoño"

    # Publish (newsletter: the footer is there), then a campaign sends it.
    with page.expect_navigation():
        page.click("#publish")
    assert "versión 1" in page.inner_text("#published")
    template_id = page.url.split("/templates/")[1].split("/")[0]
    campaigns = stack.urls["campaigns"]
    headers = {"X-API-Key": MARKETER_KEY}
    campaign = requests.post(
        f"{campaigns}/campaigns",
        headers=headers,
        timeout=10,
        json={
            "name": "Otoño",
            "channel": "email",
            "topic": "newsletter",
            "segment_id": segment_id,
            "template_id": template_id,
            "schedule": {"kind": "now"},
        },
    )
    assert campaign.status_code == 201, campaign.text
    scheduled = requests.post(
        f"{campaigns}/campaigns/{campaign.json()['id']}/schedule", headers=headers, timeout=10
    )
    assert scheduled.status_code == 200, scheduled.text
    wait_until(
        lambda: stack.smtp.mailbox.to("cliente0@ejemplo.es") and stack.smtp.mailbox.to("cliente1@ejemplo.es"),
        timeout=90,
        what="the campaign's two e-mails",
    )

    # The received message, rendered by Chromium at 390 px: no horizontal scroll, the name with its accents.
    for address, name in (("cliente0@ejemplo.es", "Begoña"), ("cliente1@ejemplo.es", "Íñigo")):
        message = stack.smtp.mailbox.to(address)[0].parsed()
        html = message.get_body(("html",)).get_content()
        plain = message.get_body(("plain",)).get_content()
        assert f"Te esperamos en la tienda, {name}" in plain
        reader = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
        mail = reader.new_page()
        mail.set_content(html)
        assert sideways(mail) == []
        shown = mail.inner_text("body")
        assert f"¡Hola, {name}!" in shown and f"Te esperamos en la tienda, {name}" in shown
        assert "Abrigos desde 49 €" in shown and "Darse de baja" in shown
        assert mail.locator("img[alt='Hojas de otoño']").get_attribute("width") == "550"
        shots(mail, f"received-390-{address.split('@')[0]}")
        reader.close()
