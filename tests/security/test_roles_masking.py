"""Every GET of the four APIs, read by an analyst, about one customer whose data is in every
collection an API reads: a profile, a static segment, an import of a file naming them,
timeline entries, consent entries, deliveries, a mention. No answer may hold the
customer's e-mail, phone, last name, IP or handle as they are (masked: shared/personal.py).

The walk takes the operations from each API's OpenAPI document, so a GET added later
is read too: a path parameter is filled with the seeded object of its name, and a
``customer_id`` query parameter with the customer."""

from __future__ import annotations

import datetime
import io
import re

from bson import ObjectId

from tests.security.conftest import service_app
from tests.support import ANALYST_KEY, CM_KEY, MARKETER_KEY

EMAIL, PHONE, LAST, IP, HANDLE = (
    "lucia.garcia@ejemplo.es",
    "+34600999887",
    "Zubizarreta",
    "203.0.113.7",
    "lucia_gz",
)
OTHER = "lu.privado@otro.example"
# The customer's number as people write it in a note or a provider's reason.
SPACED, DASHED = "+34 600 99 98 87", "600-999-887"
# Her Mexican number, written without +52 (masked by the default phone_regions, not only Spain's plan).
MEXICAN = "55 1234 5678"
PERSONAL = (
    EMAIL,
    PHONE,
    LAST,
    IP,
    HANDLE,
    OTHER,
    "lucia.garcia%40ejemplo.es",
    SPACED,
    DASHED,
    "600 999 887",
    MEXICAN,
)
# Beside them, what must reach the analyst as it is.
NOTE_TAIL = "el 15/03/2024 a las 10:30, pedido nº 600123456, 1.234,56 €"


def seed(apps) -> dict:
    from services.listener.models import ListeningQuery, Mention
    from services.mailer.models import Delivery
    from shared.models import ConsentEntry, ConsentState, Interaction

    def call(service, method, path, key=MARKETER_KEY, **kwargs):
        answer = apps[service].test_client().open(path, method=method, headers={"X-API-Key": key}, **kwargs)
        assert answer.status_code < 300, (path, answer.status_code, answer.get_data(as_text=True)[:300])
        return answer.json

    customer = call(
        "segments",
        "POST",
        "/customers",
        json={
            "email": EMAIL,
            "phone": PHONE,
            "first_name": "Lucía",
            "last_name": LAST,
            "social": {"x": HANDLE},
            "attributes": {"email": OTHER, "plan": "oro"},
        },
    )["id"]
    oid = ObjectId(customer)
    segment = call("segments", "POST", "/segments", json={"name": "Oro", "kind": "static"})["id"]
    rule = {  # a marketer's list of people by address: the values are the people
        "any": [
            {"field": "email", "op": "in", "value": [EMAIL, "otro@ejemplo.es"]},
            {"not": {"field": "phone", "op": "eq", "value": PHONE}},
            {"field": "attributes.email", "op": "eq", "value": OTHER},
            {"field": "last_name", "op": "starts_with", "value": LAST},
        ]
    }
    call("segments", "POST", "/segments", json={"name": "VIP", "kind": "dynamic", "rule": rule})
    call("segments", "POST", f"/segments/{segment}/members", json={"customer_ids": [customer]})
    header = "email,phone,first_name,last_name,consent.ip,notes"
    row = f"{EMAIL},{PHONE},Lucía,{LAST},{IP},{OTHER}"
    job = call(
        "segments",
        "POST",
        "/imports",
        query_string={"review": "true"},
        data={"file": (io.BytesIO(f"{header}\n{row}\n".encode()), "clientes.csv")},
        content_type="multipart/form-data",
    )["id"]
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    post = f"https://x.com/{HANDLE}/status/1790000000"
    Interaction(customer_id=oid, kind="mention", key="mention:x:1", channel="x", data={"url": post}).save()
    Interaction(
        customer_id=oid,
        kind="message_bounced",
        key="delivery:d:bounced",
        channel="email",
        campaign_id="c1",
        data={"delivery_id": "d", "reason": f"550 <{EMAIL}>: unknown"},
    ).save()
    entry = ConsentEntry(
        customer_id=oid,
        channel="email",
        topic="newsletter",
        status="granted",
        source="api",
        ip=IP,
        note=f"form: https://tienda.example/alta?email={EMAIL}; confirmed from {OTHER}, in Mexico "
        f"{MEXICAN} and by phone at {SPACED} ({DASHED}) {NOTE_TAIL}",
    ).save()
    ConsentState(
        customer_id=oid, channel="email", topic="newsletter", status="granted", at=now, entry_id=entry.id
    ).save()
    delivery = Delivery(
        campaign_id="c1",
        customer_id=oid,
        step="main",
        channel="email",
        topic="newsletter",
        template_id=ObjectId(),
        status="bounced",
        reason=f"550 5.1.1 <{EMAIL}>: user unknown",
        address=EMAIL,
    ).save()
    Delivery(  # the SMS provider's answer quotes the number (Twilio 21211)
        campaign_id="c2",
        customer_id=oid,
        step="main",
        channel="sms",
        topic="newsletter",
        template_id=ObjectId(),
        status="failed",
        reason=f"provider 400 code 21211: The 'To' number {PHONE} is not a valid phone number "
        "(the customer wrote 600 999 887).",
        address=PHONE,
    ).save()
    query = ListeningQuery(name="marca", keywords=["luna"], sources=["x"]).save()
    mention = Mention(
        source="x",
        post_id="1790000000",
        query_id=query.id,
        query_ids=[query.id],
        url=post,
        text="Pésimo servicio",
        author_handle=HANDLE,
        author_name=f"Lucía {LAST}",
        posted_at=now,
        customer_id=oid,
        sentiment=-0.6,
        label="negative",
    ).save()
    call("listener", "GET", "/mentions", key=CM_KEY)  # the listener reads what was written
    return {
        "customer_id": customer,
        "segment_id": segment,
        "job_id": job,
        "delivery_id": str(delivery.id),
        "query_id": str(query.id),
        "mention_id": str(mention.id),
    }


def test_no_get_of_any_api_shows_an_analyst_a_customers_personal_data(service_env):
    apps = {name: service_app(name, service_env) for name in ("segments", "campaigns", "mailer", "listener")}
    ids = seed(apps)
    read, leaks = [], []
    for service, app in apps.items():
        client = app.test_client()
        spec = client.get("/openapi.json").json
        for path, item in spec["paths"].items():
            operation = item.get("get")
            names = re.findall(r"\{([^}]+)\}", path)
            if (
                operation is None
                or path.startswith(("/p/", "/u/", "/t/", "/c/"))
                or not all(name in ids for name in names)
            ):
                continue
            query = {
                p["name"]: ids["customer_id"]
                for p in operation.get("parameters", [])
                if p.get("in") == "query" and p["name"] == "customer_id"
            }
            concrete = re.sub(r"\{([^}]+)\}", lambda m: ids[m.group(1)], path)
            answer = client.get(concrete, query_string=query, headers={"X-API-Key": ANALYST_KEY})
            if answer.status_code >= 400:
                continue
            read.append(f"{service} {path}")
            shown = answer.get_data(as_text=True)
            shown += answer.json and str(answer.json) or ""
            leaks += [f"{service} GET {path}: {value}" for value in PERSONAL if value in shown]
    assert leaks == [], "\n".join(leaks)
    history = (
        apps["mailer"]
        .test_client()
        .get(f"/customers/{ids['customer_id']}/consents/history", headers={"X-API-Key": ANALYST_KEY})
    )
    assert history.json["items"][0]["note"].endswith(f"by phone at +34*******87 (+34*******87) {NOTE_TAIL}")
    for expected in (
        "segments /customers/{customer_id}/interactions",
        "segments /imports/{job_id}",
        "mailer /customers/{customer_id}/consents/history",
        "mailer /deliveries/{delivery_id}",
        "listener /mentions/{mention_id}",
    ):
        assert expected in read, read  # the walk reached what holds the customer
