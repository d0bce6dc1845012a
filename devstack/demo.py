"""Demo data for the local run: Spanish- and English-speaking customers.

Idempotent: running it twice changes nothing. Each service's issue adds its
part (a template, a segment, a campaign, a listening query) through that
service's API.
"""

from __future__ import annotations

from shared import store
from shared.models import Customer

CUSTOMERS = [
    dict(external_id="demo-1", email="lucia.garcia@example.com", first_name="Lucía", last_name="García",
         locale="es", time_zone="Europe/Madrid", country="ES", city="Madrid", phone="+34600111222",
         location=[-3.7038, 40.4168], social={"x": "luciagarcia"}, stage="customer", tags=["vip"]),
    dict(external_id="demo-2", email="inigo.nunez@example.com", first_name="Íñigo", last_name="Núñez",
         locale="es", time_zone="Europe/Madrid", country="ES", city="Bilbao",
         location=[-2.9350, 43.2630], social={"x": "inigonunez"}, stage="prospect"),
    dict(external_id="demo-3", email="sofia.lopez@example.com", first_name="Sofía", last_name="López",
         locale="es", time_zone="America/Mexico_City", country="MX", city="Ciudad de México",
         location=[-99.1332, 19.4326], stage="lead"),
    dict(external_id="demo-4", email="emma.smith@example.com", first_name="Emma", last_name="Smith",
         locale="en", time_zone="Europe/London", country="GB", city="London",
         location=[-0.1276, 51.5072], social={"x": "emmasmith"}, stage="customer"),
    dict(external_id="demo-5", email="john.doe@example.com", first_name="John", last_name="Doe",
         locale="en", time_zone="America/New_York", country="US", city="New York",
         location=[-74.0060, 40.7128], stage="churned"),
]


def seed(mongo_uri: str, urls: dict, admin_key: str) -> str:
    store.prepare(mongo_uri)
    created = 0
    for data in CUSTOMERS:
        if Customer.objects(external_id=data["external_id"]).first() is None:
            Customer(**data).save()
            created += 1
    message = f"demo data: {created} customers added ({len(CUSTOMERS)} in the demo set)"
    if "campaigns" in urls:
        message += f"; {seed_campaigns(urls['campaigns'], admin_key)}"
    return message


DEMO_CAMPAIGN = "Demo: novedades de los lunes"


def seed_campaigns(url: str, admin_key: str) -> str:
    """A draft weekly campaign through the campaigns API (once, by name).

    It refers to the demo segment and email template when the segments and
    mailer demo data are there (any non-archived segment, any email template
    otherwise); without them it stays a draft to complete in the console.
    """
    import requests

    headers = {"X-API-Key": admin_key}
    listed = requests.get(f"{url}/campaigns", params={"limit": 200}, headers=headers, timeout=10)
    listed.raise_for_status()
    if any(item["name"] == DEMO_CAMPAIGN for item in listed.json()["items"]):
        return "demo campaign already there"
    db = store.db()
    segment = db["segments"].find_one({"archived": {"$ne": True}}, sort=[("name", 1)])
    template = db["templates"].find_one({"channel": "email", "archived": {"$ne": True}}, sort=[("name", 1)])
    body = {"name": DEMO_CAMPAIGN, "channel": "email", "topic": "newsletter",
            "segment_id": str(segment["_id"]) if segment else None,
            "template_id": str(template["_id"]) if template else None,
            "schedule": {"kind": "cron", "cron": "0 9 * * 1", "time_zone": "Europe/Madrid"},
            "cost": 25.0, "currency": "EUR", "goal": {"window_hours": 72}}
    created = requests.post(f"{url}/campaigns", json=body, headers=headers, timeout=10)
    created.raise_for_status()
    return "demo campaign added (draft)"
