"""Times you can trust: a send at 10:00 America/Mexico_City shows as 10:00 in
that zone on the campaign page (it showed "4:00:00"), and every other time
names its zone: the viewer's, chosen in the header (UTC until chosen)."""

from __future__ import annotations

import datetime
import re
import zoneinfo

import requests

from tests.console.conftest import in_process_console, seed_audience
from tests.console.test_pages import csrf_of, signed_in
from tests.support import MARKETER_KEY


def test_a_scheduled_send_shows_its_local_time_and_every_time_names_its_zone(stack, service_env):
    segment_id, template_id = seed_audience(stack, count=1)
    day = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    created = requests.post(
        f"{stack.urls['campaigns']}/campaigns",
        headers={"X-API-Key": MARKETER_KEY},
        json={
            "name": "Boletín México",
            "channel": "email",
            "topic": "newsletter",
            "segment_id": segment_id,
            "template_id": template_id,
            "schedule": {"kind": "at", "at": f"{day}T10:00", "time_zone": "America/Mexico_City"},
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    scheduled = requests.post(
        f"{stack.urls['campaigns']}/campaigns/{campaign_id}/schedule",
        headers={"X-API-Key": MARKETER_KEY},
        timeout=10,
    )
    assert scheduled.status_code == 200, scheduled.text
    app = in_process_console(
        service_env, **{f"{name}_url": url for name, url in stack.urls.items() if name != "console"}
    )
    client = signed_in(app, MARKETER_KEY, locale="es")
    page = client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    send_at = re.search(r'<p id="send-at">(.*?)</p>', page, re.S).group(1)
    assert "10:00:00" in send_at and "hora" in send_at and "(America/Mexico_City)" in send_at, send_at
    assert "4:00:00" not in send_at
    local = datetime.datetime.fromisoformat(f"{day}T10:00").replace(
        tzinfo=zoneinfo.ZoneInfo("America/Mexico_City")
    )

    def clock(zone: str) -> str:
        moment = local.astimezone(zoneinfo.ZoneInfo(zone))
        return f"{moment.hour}:{moment.minute:02d} ({zone})"

    # The viewer has not chosen a zone: the list and the dashboard say UTC.
    assert clock("UTC") in client.get("/campaigns").get_data(as_text=True)
    assert clock("UTC") in client.get("/dashboard").get_data(as_text=True)
    # Chosen Madrid: the time there, named.
    client.post("/zone", data={"csrf_token": csrf_of(client), "zone": "Europe/Madrid", "next": "/campaigns"})
    assert clock("Europe/Madrid") in client.get("/campaigns").get_data(as_text=True)
    # A zone that does not exist changes nothing.
    client.post("/zone", data={"csrf_token": csrf_of(client), "zone": "Mars/Base", "next": "/campaigns"})
    assert clock("Europe/Madrid") in client.get("/campaigns").get_data(as_text=True)
