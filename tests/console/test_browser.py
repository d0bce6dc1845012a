"""The issue's scenarios in headless Chromium against the real services.

Each test starts the services' apis (and the campaigns worker and scheduler)
as processes, the console as a process in front of them, and drives the
pages as a person would. Screenshots of every page go to the test's tmp
folder (and to docs/screenshots/ with VINCULO_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import re

import pytest
import requests

from tests.console.conftest import seed_audience
from tests.support import ANALYST_KEY, CM_KEY, MARKETER_KEY, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def sign_in(browser, console: str, key: str, name: str, locale: str = "en", viewport=(1280, 900)):
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    page.goto(f"{console}/sign-in")
    if locale == "en":
        page.click("button[name=locale][value=en]")
    page.fill("input[name=name]", name)
    page.fill("input[name=api_key]", key)
    page.click("form button.primary")
    page.wait_for_url(re.compile(r".*/dashboard$"))
    return page


def test_marketer_creates_schedules_and_watches_a_campaign(stack, browser, shots, mongo_uri):
    segment_id, template_id = seed_audience(mongo_uri, count=40)
    page = sign_in(browser, stack.console, MARKETER_KEY, "Marta")
    shots(page, "dashboard", readme=True)
    page.click("nav.main >> text=Campaigns")
    page.click("text=New campaign")

    # A field error from the service shows next to its field.
    page.fill("input[name=name]", "Rebajas de invierno")
    page.fill("input[name=segment_id]", segment_id)
    page.fill("input[name=template_id]", template_id)
    page.check("input[name=schedule_kind][value=cron]")
    page.fill("input[name=cron]", "0 9 * * 1")
    page.fill("input[name=time_zone]", "Europe/Nowhere")
    page.click("form#campaign-form button.primary")
    error = page.locator('.field-error[data-field="schedule.time_zone"]')
    assert error.count() == 1 and error.inner_text()
    shots(page, "campaign-form-error")

    page.fill("input[name=time_zone]", "Europe/Madrid")
    page.click("form#campaign-form button.primary")
    page.wait_for_url(re.compile(r".*/campaigns/[0-9a-f]{24}$"))
    body = page.inner_text("main")
    assert "at 09:00, on Monday" in body and "Europe/Madrid" in body
    assert page.locator("ol.runs li").count() == 5
    shots(page, "campaign-cron")

    # Switch to sending now, schedule, and watch it finish.
    campaign_url = page.url
    page.click("text=Edit")
    page.check("input[name=schedule_kind][value=now]")
    page.click("form#campaign-form button.primary")
    page.wait_for_url(campaign_url)
    page.click("button[value=schedule]")
    wait_until(lambda: page.reload() and page.inner_text("#state") == "sent", timeout=60,
               what="the campaign to be sent")
    assert "40" in page.inner_text("#progress")
    shots(page, "campaign-sent", readme=True)

    page.goto(f"{stack.console}/campaigns")
    assert "Rebajas de invierno" in page.inner_text("table.list")
    shots(page, "campaigns")


def test_a_destructive_action_asks_first(stack, browser, mongo_uri):
    segment_id, template_id = seed_audience(mongo_uri, count=1)
    created = requests.post(f"{stack.urls['campaigns']}/campaigns", headers={"X-API-Key": MARKETER_KEY}, json={
        "name": "Para cancelar", "channel": "email", "topic": "newsletter", "segment_id": segment_id,
        "template_id": template_id}, timeout=10).json()
    page = sign_in(browser, stack.console, MARKETER_KEY, "Marta")
    page.goto(f"{stack.console}/campaigns/{created['id']}")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("button[value=cancel]")
    assert page.inner_text("#state") == "draft"
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button[value=cancel]")
    page.wait_for_load_state()
    wait_until(lambda: page.inner_text("#state") == "cancelled", what="the campaign to be cancelled")
