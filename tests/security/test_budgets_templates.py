# ruff: noqa: F401, F811 - fixtures imported from another conftest to be used here
"""Templates have a render budget: output size, loop iterations, time
(issue 15, finding 10). It holds at save (422 naming the variant and field,
nothing stored), at preview and at send (the delivery fails, no megabytes
reach the SMTP server)."""

from __future__ import annotations

import pytest

from services.mailer.models import Delivery, Template

# The mailer tests' fixtures (real SMTP and SMS servers on loopback, the app, the sender).
from tests.mailer.conftest import (
    api,
    app,
    create_template,
    events,
    mailer_env,
    make_customer,  # noqa: F401
    send_requested,
    sender_for,
    settings,
    settings_for,
    sms_server,
    smtp_server,
)

HOSTILE = {
    "huge string": "{{ 'a' * 100000000 }}",
    "nested loops": "{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}",
    "padding method": "{{ first_name.ljust(100000000) }}",
    "padding filter": "{{ first_name|center(100000000) }}",
    "doubling": "{% set ns = namespace(s='ñandú') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s }}",
    "output": "{% for i in range(9000) %}{{ 'Oferta para ti 🎉 ' * 20 }}{% endfor %}",
    "recursion": "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
}


@pytest.mark.parametrize("field", ["html", "text", "subject"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_save_refuses_a_template_past_the_budget_naming_variant_and_field(api, name, field):  # noqa: F811
    variants = {
        "es": {"subject": "Hola {{ first_name }}", "text": "Hola", "html": "<p>Hola</p>"},
        "en": {"subject": "Hi", "text": "Hi", "html": "<p>Hi</p>"},
    }
    variants["en"][field] = HOSTILE[name]
    answer = api.post(
        "/templates",
        json={"name": "Rebajas ✨", "channel": "email", "fallback_locale": "es", "variants": variants},
    )
    assert answer.status_code == 422, answer.get_json()
    body = answer.get_json()
    assert body["error"] == "validation_error"
    assert "render budget" in str(body["details"]) and f"variants.en.{field}" in str(body["details"])
    assert len(answer.data) < 10_000
    assert Template.objects.count() == 0


def test_legitimate_loops_and_numbers_still_render(api):  # noqa: F811
    html = (
        "<ul>{% for i in range(200) %}<li>{{ loop.index }}/{{ loop.length }} {{ first_name }}</li>"
        "{% endfor %}</ul>{{ '{:,}'.format(1234567) }} {{ '%d'|format(1000000) }} {{ 1000000 * 3 }}"
        "{{ '─' * 60 }}"
    )
    created = create_template(api, variants={"es": {"subject": "Hola {{ first_name }}", "html": html}})
    preview = api.post(f"/templates/{created['id']}/preview", json={"sample": {"first_name": "Zoë"}})
    assert preview.status_code == 200, preview.get_json()
    assert "200/200 Zoë" in preview.get_json()["html"] and "1,234,567" in preview.get_json()["html"]


SIZED_BY_DATA = "<p>{{ 'Olé ' * attributes.get('copies', 1) }}</p>"


def test_preview_with_hostile_data_is_refused_not_megabytes(api):  # noqa: F811
    created = create_template(api, variants={"es": {"subject": "Hola", "html": SIZED_BY_DATA}})
    answer = api.post(
        f"/templates/{created['id']}/preview", json={"sample": {"attributes": {"copies": 30_000_000}}}
    )
    assert answer.status_code == 422
    assert "variants.es.html" in answer.get_json()["details"]["fields"]
    assert len(answer.data) < 10_000


def test_a_send_past_the_budget_fails_the_delivery_and_sends_nothing(
    api,
    sender_for,
    smtp_server,  # noqa: F811
    events,
):  # noqa: F811
    created = create_template(api, variants={"es": {"subject": "Hola", "html": SIZED_BY_DATA}})
    customer = make_customer(
        {("email", "newsletter"): "granted"},
        events=events,
        email="ñandú@ejemplo.es",
        attributes={"copies": 30_000_000},
    )
    sender_for().on_send_requested(send_requested(created["id"], [customer.id]))
    delivery = Delivery.objects.get(customer_id=customer.id)
    assert delivery.status == "failed" and "render budget" in delivery.reason
    assert smtp_server.mailbox.count == 0


def test_the_budget_is_a_setting(settings_for):  # noqa: F811
    from services.mailer.render_budget import RenderBudget

    budget = RenderBudget.from_settings(
        settings_for(render_max_bytes=1000, render_max_iterations=5, render_max_seconds=0.5)
    )
    assert budget == RenderBudget(1000, 5, 0.5)
