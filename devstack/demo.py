"""Demo data for the local run: Spanish- and English-speaking customers.

Idempotent: running it twice changes nothing. Each service's issue adds its
part (a template, a segment, a campaign, a listening query) through that
service's API.
"""

from __future__ import annotations

import requests

from shared import store

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

# Dynamic segments (filled by the segments worker from their rule).
SEGMENTS = [
    {"name": "Clientes en España", "description": "Everyone whose country is Spain",
     "rule": {"field": "country", "op": "eq", "value": "ES"}},
]


def seed(mongo_uri: str, urls: dict, admin_key: str) -> str:
    """Customers and a demo segment through the segments API (409: already there)."""
    store.prepare(mongo_uri)
    headers = {"X-API-Key": admin_key}
    created = 0
    for data in CUSTOMERS:
        body = dict(data)
        lng, lat = body.pop("location")
        body["location"] = {"lat": lat, "lng": lng}
        response = requests.post(f"{urls['segments']}/customers", json=body, headers=headers, timeout=30)
        if response.status_code == 201:
            created += 1
        elif response.status_code != 409:
            raise RuntimeError(f"demo customer {data['external_id']}: {response.status_code} {response.text}")
    segments = 0
    existing = requests.get(f"{urls['segments']}/segments", params={"limit": 500}, headers=headers,
                            timeout=30).json()["items"]
    names = {segment["name"] for segment in existing}
    for segment in SEGMENTS:
        if segment["name"] not in names:
            response = requests.post(f"{urls['segments']}/segments", json=segment, headers=headers, timeout=30)
            response.raise_for_status()
            segments += 1
    return (f"demo data: {created} customers added ({len(CUSTOMERS)} in the demo set), "
            f"{segments} segments added ({len(SEGMENTS)} in the demo set)")
