"""Consents from the console, through the mailer's API (Flask test client in
front of the real segments and mailer apis): a person's consents viewed,
granted only with source, date and proof, revoked; the double opt-in request
for a whole segment. Nothing grants consent silently."""

from __future__ import annotations

import re

import pytest
import requests

from tests.console.conftest import in_process_console
from tests.console.test_imports_segments import add_customers
from tests.console.test_pages import csrf_of, signed_in
from tests.support import ANALYST_KEY, MARKETER_KEY


@pytest.fixture
def consent_console(service_env, segments_url, smtp_server):
    mailer_url = service_env.start_api(
        "mailer",
        VINCULO_MAILER_SMTP_PORT=smtp_server.port,
        VINCULO_MAILER_QUIET_HOURS="",
        VINCULO_MAILER_PUBLIC_URL="https://m.example",
        VINCULO_MAILER_FROM_ADDRESS="ofertas@tienda.example",
    )
    app = in_process_console(service_env, api_timeout=10.0, segments_url=segments_url, mailer_url=mailer_url)
    app.mailer_url = mailer_url
    return app


def consents_of(app, customer_id) -> dict:
    answer = requests.get(
        f"{app.mailer_url}/customers/{customer_id}/consents", headers={"X-API-Key": MARKETER_KEY}, timeout=10
    ).json()
    return {(c["channel"], c["topic"]): c["status"] for c in answer["items"]}


def test_a_marketer_grants_with_source_date_and_proof_and_revokes(consent_console, segments_url):
    [customer_id] = add_customers(segments_url, [("ñandú@ejemplo.es", "Ñandú", "ES")])
    client = signed_in(consent_console, MARKETER_KEY, locale="es")
    page = f"/customers/{customer_id}"
    assert "Registrar un consentimiento que dio el cliente" in client.get(page).get_data(as_text=True)
    csrf = csrf_of(client, page)
    # No source, no date, no proof, not confirmed: refused field by field, in Spanish; nothing recorded.
    refused = client.post(
        f"{page}/consents",
        data={"csrf_token": csrf, "status": "granted", "channel": "email", "topic": "newsletter"},
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    for field, words in (
        ("source", "Indica dónde dio el cliente"),
        ("date", "Indica la fecha"),
        ("wording_version", "Da una prueba"),
        ("confirmed", "Confirma que el cliente"),
    ):
        assert re.search(rf'data-field="{field}">{words}', html), field
    assert consents_of(consent_console, customer_id) == {}
    future = client.post(
        f"{page}/consents",
        data={
            "csrf_token": csrf,
            "status": "granted",
            "channel": "email",
            "topic": "newsletter",
            "source": "form",
            "date": "2999-01-01",
            "note": "x",
            "confirmed": "yes",
        },
    )
    assert future.status_code == 422 and "La fecha no puede ser futura" in future.get_data(as_text=True)

    granted = client.post(
        f"{page}/consents",
        data={
            "csrf_token": csrf,
            "status": "granted",
            "channel": "email",
            "topic": "newsletter",
            "source": "form",
            "date": "2025-03-31",
            "wording_version": "v3",
            "note": "Formulario en tienda de Sevilla",
            "confirmed": "yes",
        },
    )
    assert granted.status_code == 302, granted.get_data(as_text=True)
    assert consents_of(consent_console, customer_id) == {("email", "newsletter"): "granted"}
    html = client.get(granted.headers["Location"]).get_data(as_text=True)
    assert "Consentimiento registrado." in html and "(form, v3)" in html

    revoked = client.post(
        f"{page}/consents",
        data={"csrf_token": csrf, "status": "revoked", "channel": "email", "topic": "newsletter"},
    )
    assert revoked.status_code == 302
    assert consents_of(consent_console, customer_id) == {("email", "newsletter"): "revoked"}
    assert "Consentimiento revocado." in client.get(revoked.headers["Location"]).get_data(as_text=True)

    analyst = signed_in(consent_console, ANALYST_KEY)
    assert 'id="consent-form"' not in analyst.get(page).get_data(as_text=True)
    assert (
        analyst.post(
            f"{page}/consents",
            data={
                "csrf_token": csrf_of(analyst, page),
                "status": "revoked",
                "channel": "email",
                "topic": "newsletter",
            },
        ).status_code
        == 403
    )


def test_a_segment_is_asked_to_confirm_and_nobody_is_subscribed(consent_console, segments_url, smtp_server):
    ids = add_customers(segments_url, [("ana@example.com", "Ana", "ES"), ("bea@example.com", "Bea", "ES")])
    requests.post(
        f"{consent_console.mailer_url}/customers/{ids[1]}/consents",
        headers={"X-API-Key": MARKETER_KEY},
        json={"channel": "email", "topic": "newsletter", "status": "granted", "source": "form"},
        timeout=10,
    ).raise_for_status()
    client = signed_in(consent_console, MARKETER_KEY, locale="es")
    created = client.post(
        "/segments/new",
        data={
            "csrf_token": csrf_of(client),
            "name": "Feria",
            "kind": "static",
            "people": "ana@example.com\nbea@example.com",
            "action": "save",
        },
    )
    segment_page = created.headers["Location"]
    csrf = csrf_of(client, segment_page)
    unticked = client.post(f"{segment_page}/invite", data={"csrf_token": csrf, "topic": "newsletter"})
    assert "Marca la casilla" in client.get(unticked.headers["Location"]).get_data(as_text=True)
    assert smtp_server.mailbox.snapshot() == []
    sent = client.post(
        f"{segment_page}/invite", data={"csrf_token": csrf, "topic": "newsletter", "confirmed": "yes"}
    )
    assert sent.status_code == 302, sent.get_data(as_text=True)
    html = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "Se envió la solicitud de confirmación a 1 personas." in html and "ya consintió: 1" in html
    assert [m.rcpt_tos for m in smtp_server.mailbox.snapshot()] == [["ana@example.com"]]
    assert consents_of(consent_console, ids[0]) == {("email", "newsletter"): "pending"}
