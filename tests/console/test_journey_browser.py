"""The journey editor in headless Chromium: a marketer adds steps with a button (not by saving
to get spare rows), builds a six-step journey in Spanish and finds it stored in that order."""

from __future__ import annotations

import re

import pytest
import requests

from tests.console.conftest import seed_audience
from tests.console.test_browser import sign_in
from tests.support import MARKETER_KEY

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_marketer_adds_steps_with_a_button_and_the_journey_keeps_them_in_order(stack, browser):
    seed_audience(stack, count=1)
    console = stack.urls["console"]
    page = sign_in(browser, console, MARKETER_KEY, "Lucía Ñúñez", locale="es")
    page.goto(f"{console}/campaigns/new")
    rows = page.locator("li.journey-step")
    spare = rows.count()
    assert spare >= 1
    for _ in range(6 - spare + 1):
        page.click("[data-role=add-step]")  # "Añadir un paso"
    assert rows.count() == 7
    assert page.input_value("input[name=journey_rows]") == "7"
    assert rows.nth(6).locator("[data-role=step-number]").inner_text() == "7"
    assert page.evaluate("document.activeElement.name") == "step6_type"  # the new row, ready to choose

    page.fill("input[name=name]", "Bienvenida en seis pasos")
    page.check("input[name=schedule_kind][value=trigger]")
    page.fill("input[name=event]", "customer.created")
    page.fill("input[name=delay_seconds]", "0")
    plan = [
        ("send", "hola"),
        ("wait", ""),
        ("send", "segundo"),
        ("wait", ""),
        ("branch", ""),
        ("send", "fin"),
    ]
    for i, (kind, name) in enumerate(plan):
        page.select_option(f"select[name=step{i}_type]", kind)
        if name:
            page.fill(f"input[name=step{i}_id]", name)
        if kind == "send":
            page.select_option(f"select[name=step{i}_template_id]", label="Bienvenida")
        elif kind == "wait":
            page.fill(f"input[name=step{i}_amount]", str(i))
            page.select_option(f"select[name=step{i}_unit]", "hours")
        else:
            page.select_option(f"select[name=step{i}_if]", "not_opened")
            page.fill(f"input[name=step{i}_of]", "segundo")
            page.fill(f"input[name=step{i}_then]", "fin")
            page.fill(f"input[name=step{i}_else]", "end")
    assert page.is_visible("input[name=step5_id]") and not page.is_visible("input[name=step5_amount]")
    page.click("form#campaign-form button.primary")
    page.wait_for_url(re.compile(r".*/campaigns/[0-9a-f]{24}$"))

    campaign_id = page.url.rsplit("/", 1)[1]
    journey = requests.get(
        f"{stack.urls['campaigns']}/campaigns/{campaign_id}", headers={"X-API-Key": MARKETER_KEY}, timeout=10
    ).json()["journey"]
    assert [s["type"] for s in journey["steps"]] == [kind for kind, _name in plan]  # the empty 7th left out
    assert [s["id"] for s in journey["steps"] if s["type"] == "send"] == ["hola", "segundo", "fin"]
    assert [s["seconds"] for s in journey["steps"] if s["type"] == "wait"] == [3600, 3 * 3600]
