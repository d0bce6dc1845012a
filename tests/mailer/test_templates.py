"""Templates through the API: versions, locale variants, strict rendering,
previews (email and SMS segments) and a test send to the real SMTP server."""

from __future__ import annotations

from services.mailer.models import Template
from shared.models import Customer
from tests.mailer.conftest import create_template, make_customer
from tests.support import ANALYST_KEY


def test_create_list_and_the_collection_other_services_read(api):
    created = create_template(api)
    assert created["channel"] == "email" and created["published_version"] == 1
    assert created["version"]["variants"]["es"]["from_name"] == "Sofía Núñez"
    raw = Template._get_collection().find_one({"name": "Ofertas"})
    assert {"_id", "name", "channel", "archived"} <= set(raw) and raw["archived"] is False
    page = api.get("/templates?limit=1").get_json()
    assert page["total"] == 1 and page["items"][0]["id"] == created["id"]
    assert api.get("/templates/nope").status_code == 404


def test_undefined_variable_is_refused_at_save_naming_variable_and_line(api):
    response = api.post(
        "/templates",
        json={
            "name": "Roto",
            "channel": "email",
            "variants": {
                "es": {"subject": "Hola", "text": "Hola {{ first_name }}\nTu código: {{ codigo }}\n"}
            },
        },
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "validation_error"
    assert body["details"]["fields"]["variants.es.text"] == ["line 2: 'codigo' is undefined"]
    # a profile attribute given in the sample is fine
    ok = api.post(
        "/templates",
        json={
            "name": "Plan",
            "channel": "email",
            "sample": {"attributes": {"plan": "oro"}},
            "variants": {"es": {"subject": "Plan {{ attributes.plan }}", "text": "x"}},
        },
    )
    assert ok.status_code == 201, ok.get_json()


def test_versions_publish_and_preview_with_customer_and_sample(api, events):
    created = create_template(api)
    tid = created["id"]
    v2 = api.post(
        f"/templates/{tid}/versions",
        json={
            "variants": {"es": {"subject": "v2 {{ first_name }}", "html": "<p>{{ attributes.nota }}</p>"}},
            "sample": {"attributes": {"nota": "<b>"}},
        },
    )
    assert v2.status_code == 201, v2.get_json()
    assert v2.get_json()["published_version"] == 1  # saved, not published
    assert (
        api.post(f"/templates/{tid}/preview", json={}).get_json()["subject"]
        == "¡Últimas ofertas para ti, Lucía!"
    )
    assert api.post(f"/templates/{tid}/versions/2/publish").status_code == 200
    preview = api.post(f"/templates/{tid}/preview", json={}).get_json()
    assert preview["version"] == 2 and preview["html"] == "<p>&lt;b&gt;</p>"  # autoescaped
    # customer without the attribute: the error names it (never a blank)
    customer = make_customer(email="ana@example.com", first_name="Ana", events=events)
    failed = api.post(f"/templates/{tid}/preview", json={"customer_id": str(customer.id)})
    assert failed.status_code == 422
    assert "'dict object' has no attribute 'nota'" in failed.get_json()["message"]
    # pin back to version 1; English customer gets the en variant
    api.post(f"/templates/{tid}/versions/1/publish")
    emma = make_customer(email="emma@example.com", first_name="Emma", locale="en", events=events)
    preview = api.post(f"/templates/{tid}/preview", json={"customer_id": str(emma.id)}).get_json()
    assert preview["locale"] == "en" and preview["subject"] == "Latest offers for you, Emma!"
    es = api.post(f"/templates/{tid}/preview", json={}).get_json()
    assert "25,00\xa0€" in es["html"]  # Spain formats money its way
    mx = api.post(f"/templates/{tid}/preview", json={"locale": "es-MX"}).get_json()
    assert mx["locale"] == "es" and "EUR25.00" in mx["html"]  # the es variant, formatted for Mexico
    versions = api.get(f"/templates/{tid}/versions").get_json()
    assert [v["number"] for v in versions["items"]] == [1, 2]


def test_sms_preview_counts_segments(api):
    created = api.post(
        "/templates",
        json={
            "name": "SMS",
            "channel": "sms",
            "variants": {
                "es": {"text": "Hola {{ first_name }}, 20% en tienda.example"},
                "en": {"text": "Hi {{ first_name }}! " + "x" * 155},
            },
        },
    ).get_json()
    es = api.post(f"/templates/{created['id']}/preview", json={"sample": {"first_name": "Sofía"}}).get_json()
    assert es["sms"] == {"encoding": "UCS-2", "units": 33, "segments": 1, "per_segment": 70}
    en = api.post(
        f"/templates/{created['id']}/preview", json={"locale": "en", "sample": {"first_name": "Emma"}}
    ).get_json()
    assert en["sms"]["encoding"] == "GSM-7" and en["sms"]["segments"] == 2
    bad = api.post("/templates", json={"name": "x", "channel": "sms", "variants": {"es": {"subject": "no"}}})
    assert bad.status_code == 422 and "variants.es.subject" in bad.get_json()["details"]["fields"]


def test_test_send_reaches_the_smtp_server(api, smtp_server):
    created = create_template(api)
    response = api.post(f"/templates/{created['id']}/test-send", json={"to": "qa@example.com"})
    assert response.status_code == 200, response.get_json()
    [message] = smtp_server.mailbox.to("qa@example.com")
    parsed = message.parsed()
    assert parsed["Subject"] == "¡Últimas ofertas para ti, Lucía!"
    assert parsed["X-Vinculo-Test"] == "1"
    assert api.post(f"/templates/{created['id']}/test-send", json={"to": "+34600"}).status_code == 422


def test_roles_and_archiving(api, app):
    from tests.mailer.conftest import Api

    analyst = Api(app.test_client(), ANALYST_KEY)
    assert analyst.post("/templates", json={}).status_code == 403
    created = create_template(api)
    assert api.patch(f"/templates/{created['id']}", json={"archived": True}).get_json()["archived"] is True
    assert api.post(f"/templates/{created['id']}/versions", json={"variants": {}}).status_code == 409
    assert Customer.objects.count() == 0


def test_openapi_documents_every_mailer_endpoint(app):
    spec = app.test_client().get("/openapi.json").get_json()
    paths = spec["paths"]
    for path in (
        "/templates",
        "/templates/{template_id}/preview",
        "/templates/{template_id}/test-send",
        "/customers/{customer_id}/consents",
        "/deliveries",
        "/bounces",
        "/unsubscribes/mail",
        "/u/{token}",
        "/t/c/{token}",
    ):
        assert path in paths, path
    assert "requestBody" in paths["/templates"]["post"]
    assert paths["/u/{token}"]["post"]["security"] == []  # public: no key
    assert paths["/templates"]["post"].get("security") != []


def test_dates_are_the_recipients_local_dates():
    import datetime

    from services.mailer.rendering import compile_variant, customer_context

    variant = compile_variant(
        "email",
        "es",
        {
            "subject": "{{ customer.purchases.last_at|date }}",
            "text": "{{ customer.purchases.last_at|datetime('short') }} | {{ attributes.alta|date }}",
        },
    )
    # 03:00 UTC on 1 July is still the evening of 30 June in Mexico City (UTC-6).
    bought = datetime.datetime(2026, 7, 1, 3, 0)
    customer = {
        "locale": "es-MX",
        "time_zone": "America/Mexico_City",
        "purchases": {"last_at": bought},
        "attributes": {"alta": "2026-07-01"},  # a date with no time is the same date everywhere
    }
    out = variant.render(customer_context(customer))
    assert out["subject"] == "30 de junio de 2026", out
    assert out["text"].startswith("30/06/26") and out["text"].endswith("| 1 de julio de 2026"), out
    madrid = variant.render(customer_context({**customer, "time_zone": "Europe/Madrid"}))
    assert madrid["subject"] == "1 de julio de 2026", madrid
