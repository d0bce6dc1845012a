"""The journey editor: steps as rows (send a template picked by name, wait, branch on an
earlier send), no JSON needed; the JSON stays as an advanced view; errors at their step
in the user's language."""

from __future__ import annotations

import html
import json
import re

import requests

from tests.console.conftest import in_process_console, seed_audience
from tests.console.test_pages import csrf_of, signed_in
from tests.support import MARKETER_KEY

BASE = {
    "name": "Bienvenida en tres pasos",
    "channel": "email",
    "topic": "newsletter",
    "schedule_kind": "trigger",
    "event": "customer.created",
    "delay_seconds": "0",
    "currency": "EUR",
    "time_zone": "Europe/Madrid",
    "journey_rows": "5",
    "journey_reentry": "never",
}
STEPS = {
    "step0_type": "send",
    "step0_id": "hola",
    "step0_template_id": "Bienvenida",  # by name
    "step1_type": "wait",
    "step1_amount": "2",
    "step1_unit": "days",
    "step2_type": "branch",
    "step2_if": "not_opened",
    "step2_then": "recordatorio",
    "step2_else": "end",
    "step3_type": "send",
    "step3_id": "recordatorio",
    "step3_template_id": "Bienvenida",
}


def test_a_journey_is_built_from_steps_and_reads_back_as_steps(stack, service_env):
    segment_id, template_id = seed_audience(stack, count=1)
    app = in_process_console(
        service_env, **{f"{name}_url": url for name, url in stack.urls.items() if name != "console"}
    )
    client = signed_in(app, MARKETER_KEY, locale="es")
    page = client.get("/campaigns/new").get_data(as_text=True)
    assert 'name="step0_type"' in page and "Avanzado: el recorrido en JSON" in page

    wrong = client.post(
        "/campaigns/new", data={**BASE, **STEPS, "step1_amount": "", "csrf_token": csrf_of(client)}
    )
    body = html.unescape(wrong.get_data(as_text=True))
    assert wrong.status_code == 422
    assert re.search(r'data-field="journey.steps.1.hours">Indica cuánto esperar', body), body[-3000:]
    assert 'value="recordatorio"' in body  # what was typed stays

    created = client.post("/campaigns/new", data={**BASE, **STEPS, "csrf_token": csrf_of(client)})
    assert created.status_code == 302, html.unescape(created.get_data(as_text=True))[-3000:]
    campaign_id = created.headers["Location"].rsplit("/", 1)[1]
    stored = requests.get(
        f"{stack.urls['campaigns']}/campaigns/{campaign_id}", headers={"X-API-Key": MARKETER_KEY}, timeout=10
    ).json()["journey"]
    assert stored["reentry"] == "never"
    assert [(s["id"], s["type"]) for s in stored["steps"]] == [
        ("hola", "send"),
        ("step2", "wait"),
        ("step3", "branch"),
        ("recordatorio", "send"),
    ]
    assert stored["steps"][0]["template_id"] == template_id and stored["steps"][1]["seconds"] == 2 * 86400
    assert (
        stored["steps"][2] | {"then": "recordatorio", "else": "end", "if": "not_opened", "of": "hola"}
        == (stored["steps"][2])
    )

    # Read back: the same rows (2 days, not 172800 seconds), and JSON the API takes back.
    edit = html.unescape(client.get(f"/campaigns/{campaign_id}/edit").get_data(as_text=True))
    assert re.search(r'name="step1_amount" value="2"', edit)
    assert re.search(r'<option value="days" selected>', edit)
    assert '<option value="not_opened" selected>no abrió</option>' in edit
    as_json = json.loads(re.search(r'<textarea name="journey"[^>]*>(.*?)</textarea>', edit, re.S).group(1))
    assert as_json["steps"][1] == {"id": "step2", "type": "wait", "days": 2}

    # The advanced view: the JSON, used only when asked.
    as_json["steps"][1]["days"] = 3
    saved = client.post(
        f"/campaigns/{campaign_id}/edit",
        data={
            **BASE,
            **STEPS,
            "journey_mode": "json",
            "journey": json.dumps(as_json),
            "csrf_token": csrf_of(client),
        },
    )
    assert saved.status_code == 302, html.unescape(saved.get_data(as_text=True))[-2000:]
    stored = requests.get(
        f"{stack.urls['campaigns']}/campaigns/{campaign_id}", headers={"X-API-Key": MARKETER_KEY}, timeout=10
    ).json()["journey"]
    assert stored["steps"][1]["seconds"] == 3 * 86400

    # An error of the service at its step, in Spanish.
    bad = client.post(
        f"/campaigns/{campaign_id}/edit",
        data={**BASE, **STEPS, "step2_then": "nadie", "csrf_token": csrf_of(client)},
    )
    body = html.unescape(bad.get_data(as_text=True))
    assert bad.status_code == 422
    assert 'data-field="journey.steps.2.then">el paso nadie no existe' in body, body[-3000:]
