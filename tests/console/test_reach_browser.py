"""A marketer sees, before and after sending, who a campaign reaches and why not the others
(issue: 'a marketer's first campaign reached 2 of 31 people, and nothing said why').
Headless Chromium against every real service, the mailer delivering to a local SMTP server."""

from __future__ import annotations

import pytest
import requests

from shared.models import Customer
from tests.console.conftest import seed_audience
from tests.console.test_browser import sign_in, text_after_reload
from tests.support import MARKETER_KEY, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_campaign_page_says_who_it_reaches_before_and_who_was_not_sent_after(stack, browser, shots):
    segment_id, template_id = seed_audience(stack, count=3)  # three with consent for newsletter
    # three more in the segment who never consented, and one with an international address who did
    Customer._get_collection().insert_many(
        [{"email": f"sin{i}@example.com", "locale": "es", "erased": False} for i in range(3)]
    )
    ñandú = (
        Customer._get_collection()
        .insert_one({"email": "ñandú@ejemplo.es", "first_name": "Íñigo", "locale": "es", "erased": False})
        .inserted_id
    )
    granted = requests.post(
        f"{stack.urls['mailer']}/customers/{ñandú}/consents",
        headers={"X-API-Key": MARKETER_KEY},
        json={"channel": "email", "topic": "newsletter", "status": "granted"},
        timeout=10,
    )
    assert granted.status_code in (200, 201), granted.text
    created = requests.post(
        f"{stack.urls['campaigns']}/campaigns",
        headers={"X-API-Key": MARKETER_KEY},
        json={
            "name": "Boletín de diciembre",
            "channel": "email",
            "topic": "newsletter",
            "segment_id": segment_id,
            "template_id": template_id,
            "schedule": {"kind": "now"},
        },
        timeout=10,
    ).json()
    page = sign_in(browser, stack.console, MARKETER_KEY, "Marta", locale="es")
    page.goto(f"{stack.console}/campaigns/{created['id']}")
    audience = page.inner_text("#audience")
    assert "7 en el segmento, 4 alcanzables por" in audience
    assert page.inner_text('#audience tr[data-reason="no_consent"]') == "sin consentimiento para este tema\t3"
    shots(page, "campaign-audience")
    with page.expect_navigation():
        page.click("button[value=schedule]")
    wait_until(
        lambda: text_after_reload(page, "#state") == "enviada",
        timeout=90,
        interval=0.5,
        what="every delivery to end",
    )
    assert page.inner_text('#progress [data-k="sent"]') == "4"
    assert page.inner_text('#not-sent tr[data-reason="no_consent"]') == "sin consentimiento para este tema\t3"
    shots(page, "campaign-not-sent")
    assert sorted(r for m in stack.smtp.mailbox.snapshot() for r in m.rcpt_tos) == sorted(
        ["cliente0@example.com", "cliente1@example.com", "cliente2@example.com", "ñandú@ejemplo.es"]
    )
