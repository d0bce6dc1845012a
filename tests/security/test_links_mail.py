"""Issue 15, finding 5: only URLs written in the template are tracked.

Every URL in a message used to be signed as a ``/t/c/`` click link, including
the ones merge fields printed: a customer named ``https://evil.example/phish``
got a link on our own domain that redirected anyone there for 90 days. A URL
whose scheme or host a merge field printed is now left as it is, untracked;
the template's own links are still tracked, also when a merge field fills in
their path."""

# ruff: noqa: F401, F811 - the mailer tests' fixtures, imported to be used here
from __future__ import annotations

import re

from services.mailer.models import Delivery
from services.mailer.tokens import from_settings
from tests.mailer.conftest import (
    Api,
    app,
    create_template,
    events,
    mailer_env,
    make_customer,
    send_requested,
    sender_for,
    settings,
    settings_for,
    sms_server,
    smtp_server,
)
from tests.support import MARKETER_KEY

EVIL = "https://evil.example/phish"
HTML = (
    "<html><body><p>Hola {{ first_name }}, {{ attributes.web }}</p>"
    '<a href="{{ attributes.web }}">tu web</a> '
    '<a href="https://tienda.example/ofertas?x=1&amp;y=2">Ver</a> '
    '<a href="https://tienda.example/c/{{ attributes.code }}">Tu cupón</a> '
    '<a href="https://tienda.example{{ attributes.host_tail }}/x">Otra</a> '
    '<a href="{{ unsubscribe_url }}">Baja</a></body></html>'
)
TEXT = (
    "Hola {{ first_name }}\nTu web: {{ attributes.web }}\nMira https://tienda.example/ofertas?x=1&y=2\n"
    "Cupón: https://tienda.example/c/{{ attributes.code }}\nBaja: {{ unsubscribe_url }}\n"
)


def test_a_url_a_merge_field_printed_is_never_a_tracked_link(app, settings, sender_for, smtp_server, events):
    api = Api(app.test_client(), MARKETER_KEY)
    template = create_template(
        api,
        variants={"es": {"subject": "Hola {{ first_name }}", "html": HTML, "text": TEXT}},
        sample={"attributes": {"web": "https://ejemplo.es", "code": "A1", "host_tail": ""}},
    )
    customer = make_customer(
        email="ñandú@ejemplo.es",
        first_name=EVIL,
        events=events,
        attributes={"web": "https://evil.example/w", "code": "ÑU-25", "host_tail": ".evil.example"},
        consent={("email", "newsletter"): "granted"},
    )
    sender_for().on_send_requested(send_requested(template["id"], [customer.id]))
    [received] = smtp_server.mailbox.to("ñandú@ejemplo.es")
    message = received.parsed()
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    delivery = Delivery.objects.get(customer_id=customer.id)
    tokens = from_settings(settings)
    tracked = {}
    for token in re.findall(r"https://mailer\.example/t/c/([A-Za-z0-9_.\-]+)", html + text):
        delivery_id, url = tokens.verify(token, "click")
        assert delivery_id == str(delivery.id)
        tracked[url] = token
    # what the template wrote is tracked, a merge field filling a path included
    assert set(tracked) == {"https://tienda.example/ofertas?x=1&y=2", "https://tienda.example/c/ÑU-25"}
    # what merge fields printed is there, as written, and goes nowhere through us
    assert 'href="https://evil.example/w"' in html and EVIL in html and EVIL in text
    assert 'href="https://tienda.example.evil.example/x"' in html
    browser = app.test_client()
    for token in tracked.values():
        location = browser.get(f"/t/c/{token}").headers["Location"]
        assert location.startswith("https://tienda.example/"), location


def test_data_cannot_pass_for_template_text(settings):  # noqa: F811
    """The characters that bracket merge-field output while rendering cannot be forged from data,
    and what the safe filter or a macro prints is data too."""
    from services.mailer.rendering import compile_variant, customer_context
    from services.mailer.tracking import Links

    variant = {
        "subject": "x",
        "text": "{{ first_name }} {{ attributes.a|safe }}",
        "html": '{% macro l(u) %}<a href="{{ u }}">x</a>{% endmacro %}<p>{{ l(attributes.a) }}</p>'
        '<a href="{{ first_name }}">y</a><a href="https://tienda.example/">z</a>',
    }
    customer = {
        "first_name": "\ue001https://evil.example/a\ue000",
        "attributes": {"a": "https://evil.example/b"},
    }
    rendered = compile_variant("email", "es", variant).render(customer_context(customer))
    assert "\ue000" not in rendered["html"] + rendered["text"] and "\ue001" not in rendered["text"]
    links = Links(from_settings(settings), "https://mailer.example", "mailto:baja@tienda.example")
    text = links.track_text(rendered["text"], "d1")
    html = links.track_html(rendered["html"], "d1")
    assert "/t/c/" not in text and text == "https://evil.example/a https://evil.example/b"
    assert html.count("/t/c/") == 1 and 'href="https://evil.example/b"' in html
    # a string that is not a rendered field says nothing about where its URLs came from: none is tracked
    assert links.track_text("https://tienda.example/", "d1") == "https://tienda.example/"
