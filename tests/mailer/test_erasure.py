"""An erasure reaches the mailer's own collections: a customer erased through the segments
API (a real process, announcing ``customer.erased`` on the real broker to a real mailer
worker) keeps no address, phone number, provider diagnostic quoting them, or IP anywhere
the mailer's API shows, or in the store, while each delivery keeps its outcome. The
handler is idempotent and costs one command per collection; a send after the erasure
writes no address again."""

from __future__ import annotations

import datetime
import json
import unicodedata

import pytest
import requests
from bson import ObjectId
from pymongo import monitoring

from services.mailer import consumers
from services.mailer.models import Delivery
from services.mailer.prefs_models import Preference
from shared.messaging.contracts import CustomerErased, envelope_for
from shared.messaging.processed import ProcessedMessage
from shared.models import ConsentEntry, Customer, SuppressedContact, contact_hash
from shared.store import utcnow
from tests.mailer.conftest import create_template, send_requested
from tests.mailer.test_public import DSN
from tests.support import MARKETER_KEY, StoreCommands, wait_consuming, wait_until

COMMANDS = StoreCommands()
monitoring.register(COMMANDS)

NANDU = {"email": "ñandú@ejemplo.es", "phone": "+34611222333", "first_name": "Begoña", "ip": "203.0.113.77"}
MARTA = {"email": "marta@bücher.example", "first_name": "Marta", "ip": "203.0.113.78"}
PIA = {"email": "pia@example.com", "first_name": "Pía", "ip": "203.0.113.79"}  # not erased


def needles(person: dict) -> set[str]:
    """Every form the person's data could be found in (matched lowercased)."""
    found = {person["ip"], person["first_name"], person["email"], person["email"].split("@")[0]}
    domain = person["email"].split("@")[1]
    found.add(domain.encode("idna").decode("ascii"))  # the A-label form relays report
    if person.get("phone"):
        found |= {person["phone"], person["phone"][3:]}
    found |= {unicodedata.normalize("NFD", text) for text in found}
    return {text.lower() for text in found if len(text) > 3}


def held(text: str, person: dict) -> set[str]:
    return {needle for needle in needles(person) if needle in text.lower()}


def in_segments(segments: str, person: dict) -> ObjectId:
    fields = {name: person[name] for name in ("email", "phone", "first_name") if person.get(name)}
    answer = requests.post(
        f"{segments}/customers", json=fields, headers={"X-API-Key": MARKETER_KEY}, timeout=10
    )
    assert answer.status_code == 201, answer.text
    return ObjectId(answer.json()["id"])


def grant(api, customer_id, person: dict, channel: str) -> None:
    body = {"channel": channel, "topic": "newsletter", "status": "granted", "ip": person["ip"]}
    answer = api.post(f"/customers/{customer_id}/consents", json=body)
    assert answer.status_code == 201, answer.get_json()


def shown(api, path: str) -> str:
    """A mailer GET's answer as the text a reader sees (JSON escapes undone)."""
    answer = api.get(path)
    assert answer.status_code == 200, (path, answer.get_json())
    return json.dumps(answer.get_json(), ensure_ascii=False)


def bounce(admin_api, delivery_id, wire_address: str) -> None:
    """A hard bounce whose diagnostic quotes the address as the relay wrote it."""
    report = DSN.format(
        delivery=delivery_id, address=wire_address, status="5.1.1", code=f"550 5.1.1 <{wire_address}> unknown"
    )
    answer = admin_api.post("/bounces", data=report.encode(), content_type="message/rfc822")
    assert answer.status_code == 200 and answer.get_json()["suppressed"], answer.get_json()


def handled(customer_ids) -> None:
    """Wait until the mailer worker has handled these customers' ``customer.erased``."""
    wanted = {f"erased-{customer_id}" for customer_id in customer_ids}
    wait_until(
        lambda: wanted <= set(ProcessedMessage.objects(message_id__in=list(wanted)).distinct("message_id")),
        what="the mailer worker to handle customer.erased",
    )


def outcomes() -> dict:
    return {(d.campaign_id, str(d.customer_id)): d.status for d in Delivery.objects}


@pytest.fixture
def world(service_env, mailer_env, api, admin_api, sender_for, smtp_server, sms_server):
    """Three customers (two to erase) and their deliveries: sent, refused by the provider with
    the address quoted, bounced with the address quoted, by email and by SMS."""
    segments = service_env.start_api("segments")
    service_env.start("mailer", "worker", **mailer_env)
    wait_consuming(service_env.amqp_url, service_env.topology.name("mailer.customer.erased"))
    ids = {}
    for name, person in (("nandu", NANDU), ("marta", MARTA), ("pia", PIA)):
        ids[name] = in_segments(segments, person)
        grant(api, ids[name], person, "email")
    grant(api, ids["nandu"], NANDU, "sms")
    Preference(customer_id=ids["nandu"], paused_until=utcnow() - datetime.timedelta(days=1)).save()

    mail = create_template(api)["id"]
    sms = api.post(
        "/templates",
        json={"name": "SMS", "channel": "sms", "variants": {"es": {"text": "Hola {{ first_name }}"}}},
    ).get_json()["id"]
    sender = sender_for(frequency_cap=0)
    everyone = [ids["nandu"], ids["marta"], ids["pia"]]
    sender.on_send_requested(send_requested(mail, everyone, campaign_id="c-mail-1"))
    smtp_server.mailbox.rules[NANDU["email"]] = f"550 5.1.1 <{NANDU['email']}>: Recipient address rejected"
    sender.on_send_requested(send_requested(mail, [ids["nandu"]], campaign_id="c-mail-2"))
    smtp_server.mailbox.rules.clear()
    sender.on_send_requested(send_requested(mail, everyone, campaign_id="c-mail-3"))
    sender.on_send_requested(send_requested(sms, [ids["nandu"]], campaign_id="c-sms-1", channel="sms"))
    sms_server.rules[NANDU["phone"]] = (
        400,
        21211,
        f"The 'To' number {NANDU['phone']} is not a valid phone number",
    )
    sender.on_send_requested(send_requested(sms, [ids["nandu"]], campaign_id="c-sms-2", channel="sms"))
    bounced = {d.customer_id: d.id for d in Delivery.objects(campaign_id="c-mail-3")}
    bounce(admin_api, bounced[ids["nandu"]], NANDU["email"])
    bounce(admin_api, bounced[ids["marta"]], "marta@xn--bcher-kva.example")

    before = outcomes()
    assert sorted(status for (_, cid), status in before.items() if cid == str(ids["nandu"])) == [
        "bounced",
        "failed",
        "failed",
        "sent",
        "sent",
    ]
    # the data is there before the erasure, so the checks below can see it go
    assert held(shown(api, f"/deliveries?customer_id={ids['nandu']}"), NANDU) >= {
        NANDU["email"],
        NANDU["phone"],
    }
    assert held(shown(api, f"/customers/{ids['marta']}/consents/history"), MARTA) == {MARTA["ip"]}
    return segments, ids, before, {"mail": mail, "sms": sms}


def mailer_gets(ids) -> list[str]:
    """Every mailer GET that shows deliveries or consents."""
    paths = ["/deliveries?limit=100", "/deliveries?status=bounced", "/deliveries?status=failed"]
    paths += [
        f"/deliveries?campaign_id={c}" for c in ("c-mail-1", "c-mail-2", "c-mail-3", "c-sms-1", "c-sms-2")
    ]
    paths += [f"/deliveries/{d.id}" for d in Delivery.objects]
    for customer_id in ids.values():
        paths += [
            f"/deliveries?customer_id={customer_id}",
            f"/customers/{customer_id}/consents",
            f"/customers/{customer_id}/consents/history",
        ]
    return paths


def store_text() -> str:
    """Every document of the store but the profiles (segments', erased by segments), as text."""
    db = Delivery._get_db()
    docs = []
    for name in db.list_collection_names():
        if name != Customer._get_collection_name():
            docs += [str(doc) for doc in db[name].find()]
    return "\n".join(docs)


def test_an_erased_customer_leaves_no_address_phone_or_ip_in_the_mailer(world, api, sender_for):
    segments, ids, before, templates = world
    for name in ("nandu", "marta"):
        answer = requests.delete(
            f"{segments}/customers/{ids[name]}", headers={"X-API-Key": MARKETER_KEY}, timeout=10
        )
        assert answer.status_code == 204, answer.text
    erased = [ids["nandu"], ids["marta"]]
    handled(erased)

    for path in mailer_gets(ids):
        text = shown(api, path)
        assert held(text, NANDU) == set() and held(text, MARTA) == set(), path
    assert held(store_text(), NANDU) == set() and held(store_text(), MARTA) == set()
    # results count as before; the one not erased keeps its address
    assert outcomes() == before
    assert {d.address for d in Delivery.objects(customer_id=ids["pia"])} == {PIA["email"]}
    assert ConsentEntry.objects(customer_id=ids["pia"]).first().ip == PIA["ip"]
    assert Delivery.objects(customer_id__in=erased, erased=True).count() == 7
    page = api.get(f"/deliveries?customer_id={ids['nandu']}").get_json()
    assert page["total"] == 5 and {item["erased"] for item in page["items"]} == {True}
    assert {item["address"] for item in page["items"]} == {None}
    assert {item["code"] for item in page["items"] if item["status"] == "failed"} == {"provider_rejected"}
    assert Preference.objects(customer_id=ids["nandu"]).count() == 0
    for kind, value in (("email", NANDU["email"]), ("phone", NANDU["phone"]), ("email", MARTA["email"])):
        assert SuppressedContact.objects(hash=contact_hash(kind, value)).count() == 1

    # the event again (redelivered): nothing changes, and it costs one command per collection
    event = CustomerErased(
        customer_id=str(ids["nandu"]),
        email_hash=contact_hash("email", NANDU["email"]),
        phone_hash=contact_hash("phone", NANDU["phone"]),
    )
    deliveries = list(Delivery._get_collection().find({"customer_id": ids["nandu"]}))
    with COMMANDS.counting():
        consumers.on_customer_erased(envelope_for(event, "segments", message_id=f"erased-{ids['nandu']}"))
    assert list(Delivery._get_collection().find({"customer_id": ids["nandu"]})) == deliveries
    assert COMMANDS.seen == {
        ("insert", "suppressed_contacts"): 2,  # each refused: already there
        ("update", "deliveries"): 1,
        ("update", "consent_ledger"): 1,
        ("delete", "preferences"): 1,
    }

    # a send after the erasure (a new campaign, a resend to the failed) writes no address again
    sender = sender_for()
    sender.on_send_requested(send_requested(templates["mail"], erased, campaign_id="c-after"))
    sender.on_send_requested(
        send_requested(templates["mail"], erased, campaign_id="c-mail-2", retry_failed=True)
    )
    sender.on_send_requested(
        send_requested(
            templates["sms"], [ids["nandu"]], campaign_id="c-sms-2", channel="sms", retry_failed=True
        )
    )
    after = list(Delivery.objects(campaign_id="c-after"))
    assert [(d.status, d.code, d.address) for d in after] == [("skipped", "erased", None)] * 2
    assert held(store_text(), NANDU) == set() and held(store_text(), MARTA) == set()
    for path in mailer_gets(ids):
        text = shown(api, path)
        assert held(text, NANDU) == set() and held(text, MARTA) == set(), path


def test_a_bounce_after_the_erasure_keeps_no_diagnostic(world, api, admin_api):
    segments, ids, _, _ = world
    requests.delete(f"{segments}/customers/{ids['nandu']}", headers={"X-API-Key": MARKETER_KEY}, timeout=10)
    handled([ids["nandu"]])
    late = Delivery.objects.get(customer_id=ids["nandu"], campaign_id="c-mail-1")
    bounce(admin_api, late.id, NANDU["email"])
    late.reload()
    assert (late.status, late.reason, late.address) == ("bounced", "hard: 5.1.1", None)
    assert held(shown(api, f"/deliveries/{late.id}"), NANDU) == set()


def test_forget_erased_cleans_the_deliveries_of_customers_erased_before_the_worker_did(
    service_env, api, sender_for, smtp_server, events
):
    """What an earlier version left: a profile erased (tombstone) whose deliveries and ledger
    still hold its address and IP; the operator's one-off command takes them out."""
    template = create_template(api)["id"]
    old = Customer(email=MARTA["email"], first_name=MARTA["first_name"], locale="es").save()
    kept = Customer(email=PIA["email"], first_name=PIA["first_name"], locale="es").save()
    for customer, person in ((old, MARTA), (kept, PIA)):
        grant(api, customer.id, person, "email")
    sender_for().on_send_requested(send_requested(template, [old.id, kept.id], campaign_id="c-old"))
    Customer._get_collection().update_one(
        {"_id": old.id}, {"$set": {"erased": True}, "$unset": {"email": "", "first_name": ""}}
    )
    assert held(store_text(), MARTA) >= {MARTA["email"], MARTA["ip"]}

    command = service_env.start("mailer", "forget-erased")
    assert command.wait(timeout=60) == 0, command.log_path.read_text()
    assert "1 erased customers" in command.log_path.read_text()
    assert held(store_text(), MARTA) == set()
    erased = Delivery.objects.get(customer_id=old.id)
    assert (erased.status, erased.address, erased.erased) == ("sent", None, True)
    assert Delivery.objects.get(customer_id=kept.id).address == PIA["email"]
    assert ConsentEntry.objects.get(customer_id=kept.id).ip == PIA["ip"]


def test_an_erasure_event_without_a_customer_id_is_dead_lettered_not_retried(service_env):
    from shared.messaging.consumer import Poison

    event = CustomerErased(customer_id="ñandú", email_hash=contact_hash("email", NANDU["email"]))
    with pytest.raises(Poison, match="customer_id"):
        consumers.on_customer_erased(envelope_for(event, "segments"))
