"""A/B variants named in free text (spaces, accents): the console keeps a key the API accepts
and shows the label; a mistake is said at its field in the user's language, not as
"Invalid json: variants.0.name"."""

from __future__ import annotations

import html
import re

import requests

from services.console.campaign_form import variant_key
from tests.console.conftest import in_process_console, seed_audience
from tests.console.test_pages import csrf_of, signed_in
from tests.support import MARKETER_KEY


def test_a_key_is_made_from_any_label():
    taken: set[str] = set()
    assert variant_key("Asunto con tilde ¿sí?", taken, 0) == "asunto-con-tilde-si"
    assert variant_key("asunto con tilde (sí)", taken, 1) == "asunto-con-tilde-si-2"
    assert variant_key("¡¡!!", taken, 2) == "variant-3"
    assert variant_key("Ünïcödé 😀 " + "x" * 80, set(), 0) == "unicode-" + "x" * 32


def form(segment_id, template_id, splits=("50", "50"), labels=("Asunto con tilde ¿sí?", "Oferta: 2×1")):
    data = {
        "name": "Prueba A/B",
        "channel": "email",
        "topic": "newsletter",
        "segment_id": segment_id,
        "schedule_kind": "",
        "currency": "EUR",
        "time_zone": "Europe/Madrid",
        "ab_test_share": "20",
        "ab_metric": "open",
        "ab_window_hours": "4",
        "ab_min_sample": "100",
    }
    for i, (label, split) in enumerate(zip(labels, splits, strict=True)):
        data.update(
            {f"variant{i}_name": label, f"variant{i}_template_id": template_id, f"variant{i}_split": split}
        )
    return data


def test_variants_keep_their_labels_and_errors_are_in_spanish(stack, service_env):
    segment_id, template_id = seed_audience(stack, count=1)
    app = in_process_console(
        service_env, **{f"{name}_url": url for name, url in stack.urls.items() if name != "console"}
    )
    client = signed_in(app, MARKETER_KEY, locale="es")
    client.get("/campaigns/new")

    wrong = client.post(
        "/campaigns/new", data={**form(segment_id, template_id, ("50", "40")), "csrf_token": csrf_of(client)}
    )
    page = html.unescape(wrong.get_data(as_text=True))
    assert wrong.status_code == 422
    assert "los repartos deben sumar 100" in page and "Corrige los campos marcados." in page
    assert "Invalid" not in page and "splits must" not in page
    assert 'value="Asunto con tilde ¿sí?"' in page  # what was typed stays

    unnamed = form(segment_id, template_id, labels=("", "B"))
    answer = client.post("/campaigns/new", data={**unnamed, "csrf_token": csrf_of(client)})
    assert answer.status_code == 422 and "Ponle un nombre a esta variante." in answer.get_data(as_text=True)

    created = client.post(
        "/campaigns/new", data={**form(segment_id, template_id), "csrf_token": csrf_of(client)}
    )
    assert created.status_code == 302, created.get_data(as_text=True)
    campaign_id = re.search(r"/campaigns/([0-9a-f]{24})$", created.headers["Location"]).group(1)
    stored = requests.get(
        f"{stack.urls['campaigns']}/campaigns/{campaign_id}", headers={"X-API-Key": MARKETER_KEY}, timeout=10
    ).json()
    assert [(v["name"], v["label"]) for v in stored["variants"]] == [
        ("asunto-con-tilde-si", "Asunto con tilde ¿sí?"),
        ("oferta-2-1", "Oferta: 2×1"),
    ]
    shown = html.unescape(client.get(f"/campaigns/{campaign_id}").get_data(as_text=True))
    assert "<td>Asunto con tilde ¿sí?</td>" in shown and "<td>Oferta: 2×1</td>" in shown
    edit = html.unescape(client.get(f"/campaigns/{campaign_id}/edit").get_data(as_text=True))
    assert 'value="Oferta: 2×1"' in edit  # the label, not the key, is edited

    # English: the same mistake in English words.
    english = signed_in(app, MARKETER_KEY, locale="en")
    english.get("/campaigns/new")
    wrong = english.post(
        "/campaigns/new", data={**form(segment_id, template_id, ("50", "40")), "csrf_token": csrf_of(english)}
    )
    page = html.unescape(wrong.get_data(as_text=True))
    assert "splits must add up to 100" in page and "Please correct the marked fields." in page
