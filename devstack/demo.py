"""Demo data for the local run: Spanish- and English-speaking customers.

Idempotent: running it twice changes nothing. Each service's issue adds its
part (a template, a segment, a campaign, a listening query) through that
service's API.
"""

from __future__ import annotations

import requests

from shared import store
from shared.documents import prepare_store
from shared.models import Customer

CUSTOMERS = [
    dict(
        external_id="demo-1",
        email="lucia.garcia@example.com",
        first_name="Lucía",
        last_name="García",
        locale="es",
        time_zone="Europe/Madrid",
        country="ES",
        city="Madrid",
        phone="+34600111222",
        location=[-3.7038, 40.4168],
        social={"x": "luciagarcia"},
        stage="customer",
        tags=["vip"],
    ),
    dict(
        external_id="demo-2",
        email="inigo.nunez@example.com",
        first_name="Íñigo",
        last_name="Núñez",
        locale="es",
        time_zone="Europe/Madrid",
        country="ES",
        city="Bilbao",
        location=[-2.9350, 43.2630],
        social={"x": "inigonunez"},
        stage="prospect",
    ),
    dict(
        external_id="demo-3",
        email="sofia.lopez@example.com",
        first_name="Sofía",
        last_name="López",
        locale="es",
        time_zone="America/Mexico_City",
        country="MX",
        city="Ciudad de México",
        location=[-99.1332, 19.4326],
        stage="lead",
    ),
    dict(
        external_id="demo-4",
        email="emma.smith@example.com",
        first_name="Emma",
        last_name="Smith",
        locale="en",
        time_zone="Europe/London",
        country="GB",
        city="London",
        location=[-0.1276, 51.5072],
        social={"x": "emmasmith"},
        stage="customer",
    ),
    dict(
        external_id="demo-5",
        email="john.doe@example.com",
        first_name="John",
        last_name="Doe",
        locale="en",
        time_zone="America/New_York",
        country="US",
        city="New York",
        location=[-74.0060, 40.7128],
        stage="churned",
    ),
]

# Dynamic segments (filled by the segments worker from their rule).
SEGMENTS = [
    {
        "name": "Clientes en España",
        "description": "Everyone whose country is Spain",
        "rule": {"field": "country", "op": "eq", "value": "ES"},
    },
]


def seed(mongo_uri: str, urls: dict, admin_key: str) -> str:
    """Customers and a demo segment through the segments API (409: already there)."""
    prepare_store(mongo_uri)
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
    existing = requests.get(
        f"{urls['segments']}/segments", params={"limit": 500}, headers=headers, timeout=30
    ).json()["items"]
    names = {segment["name"] for segment in existing}
    for segment in SEGMENTS:
        if segment["name"] not in names:
            response = requests.post(
                f"{urls['segments']}/segments", json=segment, headers=headers, timeout=30
            )
            response.raise_for_status()
            segments += 1
    said = [
        f"{created} customers added ({len(CUSTOMERS)} in the demo set), "
        f"{segments} segments added ({len(SEGMENTS)} in the demo set)"
    ]
    # Order matters: the demo campaign refers to the demo segment and template.
    for service, step in (
        ("mailer", seed_mailer),
        ("listener", seed_listener),
        ("campaigns", seed_campaigns),
    ):
        if service in urls:
            said.append(step(urls[service], admin_key))
    return "demo data: " + "; ".join(said)


LISTENING_QUERY = {
    "name": "Demo: Café Luna",
    "keywords": ["Café Luna", "cafeluna"],
    "hashtags": ["CafeLuna"],
    "handles": ["cafeluna"],
    "exclusions": ["sorteo"],
    "languages": ["es", "en"],
    "sources": ["x", "rss"],
    "feeds": ["https://blog.example.com/feed.xml"],
}
# Demo posts by demo customers (linked to their profiles by X handle).
DEMO_POSTS = [
    ("demo-x-1", "luciagarcia", "Me encanta el nuevo café de temporada de @CafeLuna ☕️😍"),
    ("demo-x-2", "emmasmith", "Waited 40 minutes at @CafeLuna today, not great 😒"),
]


def seed_listener(url: str, admin_key: str) -> str:
    """A listening query through the API, and demo mentions from a local RSS file and two posts."""
    import datetime
    import os
    from pathlib import Path

    import feedparser
    import requests

    from services.listener.announce import BatchPublisher
    from services.listener.models import DOCUMENTS, ListeningQuery
    from services.listener.pipeline import Pipeline
    from services.listener.sources.base import Post
    from services.listener.sources.rss import RssSource
    from shared.messaging.topology import Topology

    headers = {"X-API-Key": admin_key}
    existing = requests.get(f"{url}/queries", headers=headers, params={"limit": 200}, timeout=10).json()[
        "items"
    ]
    query_id = next((q["id"] for q in existing if q["name"] == LISTENING_QUERY["name"]), None)
    if query_id is None:
        answer = requests.post(f"{url}/queries", json=LISTENING_QUERY, headers=headers, timeout=10)
        answer.raise_for_status()
        query_id = answer.json()["id"]
    store.ensure_indexes(*DOCUMENTS)
    query = ListeningQuery.objects(id=query_id).first()
    feed = feedparser.parse(str(Path(__file__).with_name("demo_feed.xml")))
    posts = RssSource()._new_entries(query, LISTENING_QUERY["feeds"][0], feed.entries, {})
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    posts += [
        Post(
            source="x",
            post_id=post_id,
            text=text,
            author_handle=handle,
            posted_at=now,
            url=f"https://x.com/{handle}/status/{post_id}",
        )
        for post_id, handle, text in DEMO_POSTS
    ]
    publisher = BatchPublisher(
        os.environ.get("VINCULO_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"),
        Topology(os.environ.get("VINCULO_BROKER_NAMESPACE", "")),
    )
    try:
        result = Pipeline(publisher).ingest(query, posts, server_matched=False)
    finally:
        publisher.close()
    return f"listening query {query_id!s}, {len(result.new)} demo mentions added"


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
    body = {
        "name": DEMO_CAMPAIGN,
        "channel": "email",
        "topic": "newsletter",
        "segment_id": str(segment["_id"]) if segment else None,
        "template_id": str(template["_id"]) if template else None,
        "schedule": {"kind": "cron", "cron": "0 9 * * 1", "time_zone": "Europe/Madrid"},
        "cost": 25.0,
        "currency": "EUR",
        "goal": {"window_hours": 72},
    }
    created = requests.post(f"{url}/campaigns", json=body, headers=headers, timeout=10)
    created.raise_for_status()
    return "demo campaign added (draft)"


DEMO_TEMPLATE = {
    "name": "Demo: novedades",
    "channel": "email",
    "fallback_locale": "es",
    "description": "Newsletter in Spanish and English (demo data)",
    "variants": {
        "es": {
            "subject": "¡Últimas ofertas para ti, {{ first_name }}!",
            "from_name": "Tienda Vínculo",
            "text": "Hola {{ first_name }}:\n\nEsta semana, envío gratis: https://tienda.example/ofertas\n\n"
            "Darte de baja: {{ unsubscribe_url }}\n",
            "html": "<html><body><p>Hola {{ first_name }}:</p><p>Esta semana, envío gratis desde "
            '{{ 30|money }}. <a href="https://tienda.example/ofertas">Ver ofertas</a></p>'
            '<p><a href="{{ unsubscribe_url }}">Darme de baja</a></p></body></html>',
        },
        "en": {
            "subject": "Latest offers for you, {{ first_name }}!",
            "from_name": "Vínculo Shop",
            "text": "Hi {{ first_name }},\n\nFree shipping this week: https://tienda.example/offers\n\n"
            "Unsubscribe: {{ unsubscribe_url }}\n",
            "html": "<html><body><p>Hi {{ first_name }},</p><p>Free shipping from {{ 30|money }}. "
            '<a href="https://tienda.example/offers">See offers</a></p>'
            '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>',
        },
    },
}


def seed_mailer(url: str, admin_key: str) -> str:
    """A demo template (es/en) and newsletter consents, through the mailer API; idempotent."""
    import requests

    headers = {"X-API-Key": admin_key}
    templates = requests.get(f"{url}/templates?limit=500", headers=headers, timeout=10).json()["items"]
    added = 0
    if not any(t["name"] == DEMO_TEMPLATE["name"] for t in templates):
        created = requests.post(f"{url}/templates", json=DEMO_TEMPLATE, headers=headers, timeout=10)
        created.raise_for_status()
        added = 1
        # one test send, so that var/mail shows what a message looks like
        requests.post(
            f"{url}/templates/{created.json()['id']}/test-send",
            headers=headers,
            timeout=30,
            json={"to": "demo@example.com"},
        ).raise_for_status()
    for data in CUSTOMERS[:4]:  # demo-5 gave no consent
        customer = Customer.objects(external_id=data["external_id"]).first()
        requests.post(
            f"{url}/customers/{customer.id}/consents",
            headers=headers,
            timeout=10,
            json={
                "channel": "email",
                "topic": "newsletter",
                "status": "granted",
                "source": "import",
                "wording_version": "demo-1",
                "idempotency_key": f"demo-consent-{data['external_id']}",
            },
        ).raise_for_status()
    return f"mailer: {added} template added, newsletter consents for 4 customers"
