"""Issue 15, finding 1: a template preview never mints a live token, and shows a
customer's data as the caller's role may see it.

An analyst (read-only, masked) previewed a template with a customer id and got
that customer's live unsubscribe and preference-center links and their
unmasked email and last name: with them a POST revoked a consent as the
customer's own one-click unsubscribe and ``/p/<token>/data`` downloaded the
whole profile. Here every path a preview shows is tried against the public
pages, with no key, as anyone holding the preview could."""

# ruff: noqa: F401, F811 - the mailer tests' fixtures, imported to be used here
from __future__ import annotations

import re

import pytest

from services.mailer.tokens import PURPOSES, TokenError, from_settings
from shared.models import ConsentEntry, ConsentState
from tests.mailer.conftest import (
    Api,
    app,
    create_template,
    events,
    mailer_env,
    make_customer,
    settings,
    settings_for,
    sms_server,
    smtp_server,
)
from tests.support import ANALYST_KEY, MARKETER_KEY, SECRET

HTML = (
    "<html><body><p>Hola {{ name }} ({{ customer.email }}, {{ customer.phone }}, {{ last_name }})</p>"
    '<a href="https://tienda.example/ofertas">Ver</a> <a href="{{ unsubscribe_url }}">Baja</a> '
    '<a href="{{ preferences_url }}">Preferencias</a></body></html>'
)
TEXT = (
    "Hola {{ first_name }} {{ last_name }}: https://tienda.example/ofertas\nBaja: {{ unsubscribe_url }}\n"
    "Preferencias: {{ preferences_url }}\n"
)
LINK = re.compile(r"/(u|p|t/c|t/o|c)/([A-Za-z0-9_.\-]+)")


@pytest.fixture
def customer(app, events):
    return make_customer(
        email="ñandú@ejemplo.es",
        phone="+34600999887",
        first_name="Íñigo",
        last_name="Núñez",
        consent={("email", "newsletter"): "granted"},
        events=events,
    )


@pytest.fixture
def template(app):
    return create_template(
        Api(app.test_client(), MARKETER_KEY),
        variants={"es": {"subject": "Hola {{ first_name }} {{ last_name }}", "text": TEXT, "html": HTML}},
    )


def tokens_in(*bodies) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for body in bodies for m in LINK.finditer(body or "")]


@pytest.mark.parametrize("key", [ANALYST_KEY, MARKETER_KEY])
def test_a_preview_with_a_customer_id_holds_no_token_any_public_page_accepts(
    app, settings, customer, template, key
):
    preview = Api(app.test_client(), key).post(
        f"/templates/{template['id']}/preview", json={"customer_id": str(customer.id)}
    )
    assert preview.status_code == 200, preview.json
    html, text = preview.json["html"], preview.json["text"]
    found = tokens_in(html, text)
    assert {kind for kind, _ in found} >= {"u", "p"}, (html, text)  # the links are there, inert
    tokens = from_settings(settings)
    browser = app.test_client()  # no key: whoever holds the preview
    for _kind, token in found:
        for purpose in PURPOSES:
            with pytest.raises(TokenError):
                tokens.verify(token, purpose)
        assert browser.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 400
        assert browser.get(f"/p/{token}/data").status_code != 200
        assert browser.post(f"/p/{token}/erase", data={"confirm": "yes"}).status_code != 200
        assert browser.get(f"/t/c/{token}").status_code == 404
    # the tracked-looking link of the template is shown as written, not signed
    assert 'href="https://tienda.example/ofertas"' in html
    assert all(
        host == "example.invalid" for host in re.findall(r"https?://([^/\"'\s]+)/(?:u|p)/", html + text)
    )
    # nothing happened to the customer
    assert ConsentState.objects.get(customer_id=customer.id).status == "granted"
    assert ConsentEntry.objects(customer_id=customer.id).count() == 1


def test_an_analyst_previews_a_customer_masked_as_everywhere_else(app, customer, template):
    analyst = Api(app.test_client(), ANALYST_KEY)
    preview = analyst.post(
        f"/templates/{template['id']}/preview", json={"customer_id": str(customer.id)}
    ).json
    shown = " ".join(preview[k] for k in ("subject", "text", "html"))
    for personal in ("ñandú@ejemplo.es", "+34600999887", "Núñez", "N&uacute;&ntilde;ez", "N&#250;"):
        assert personal not in shown, personal
    assert "ñ***@ejemplo.es" in preview["html"] and "+34*******87" in preview["html"]
    assert "Íñigo N***" in preview["subject"]
    # the marketer sees the customer as they are
    marketer = Api(app.test_client(), MARKETER_KEY)
    full = marketer.post(f"/templates/{template['id']}/preview", json={"customer_id": str(customer.id)}).json
    assert "ñandú@ejemplo.es" in full["html"] and full["subject"] == "Hola Íñigo Núñez"


def test_the_consoles_preview_frame_is_inert_and_masked_for_an_analyst(service_env):
    """The console's preview frame and editor ask the mailer's preview with the signed-in key."""
    import requests

    from services.mailer.tokens import Tokens
    from tests.console.conftest import in_process_console
    from tests.console.test_pages import signed_in

    mailer_url = service_env.start_api("mailer", VINCULO_MAILER_PUBLIC_URL="https://mailer.example")
    answer = requests.post(
        f"{mailer_url}/templates",
        headers={"X-API-Key": MARKETER_KEY},
        timeout=10,
        json={
            "name": "Ofertas",
            "channel": "email",
            "fallback_locale": "es",
            "variants": {
                "es": {"subject": "Hola {{ first_name }} {{ last_name }}", "text": TEXT, "html": HTML}
            },
        },
    )
    assert answer.status_code == 201, answer.text
    template_id = answer.json()["id"]
    customer = make_customer(
        email="ñandú@ejemplo.es", phone="+34600999887", first_name="Íñigo", last_name="Núñez"
    )
    console = signed_in(in_process_console(service_env, mailer_url=mailer_url), ANALYST_KEY, "Ana", "es")
    frame = console.get(f"/templates/{template_id}/frame", query_string={"customer_id": str(customer.id)})
    editor = console.get(f"/templates/{template_id}", query_string={"customer_id": str(customer.id)})
    assert frame.status_code == 200 and editor.status_code == 200
    shown = frame.get_data(as_text=True) + editor.get_data(as_text=True)
    assert "Íñigo" in frame.get_data(as_text=True)
    for personal in ("ñandú@ejemplo.es", "+34600999887", "Núñez", "N&uacute;&ntilde;ez", "N&#250;"):
        assert personal not in shown, personal
    found = tokens_in(frame.get_data(as_text=True))
    assert {kind for kind, _ in found} >= {"u", "p"}
    tokens = Tokens(SECRET, 90 * 86400)
    for _, token in found:
        for purpose in PURPOSES:
            with pytest.raises(TokenError):
                tokens.verify(token, purpose)
        assert (
            requests.post(
                f"{mailer_url}/u/{token}", data={"List-Unsubscribe": "One-Click"}, timeout=10
            ).status_code
            == 400
        )
