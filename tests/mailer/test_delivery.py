"""The delivery pipeline in process (real store, real broker, real SMTP and
SMS servers): what arrives, its headers and parts, and every send-time rule."""

from __future__ import annotations

import datetime
import email.policy
import json
import re

from kombu import Connection

from services.mailer.models import Delivery
from services.mailer.tokens import Tokens
from shared.models import Interaction, SuppressedContact, contact_hash
from shared.store import utcnow
from tests.mailer.conftest import create_template, make_customer, send_requested
from tests.support import Timeline, drain


def delivery_queue(service_env):
    with Connection(service_env.amqp_url) as conn:
        service_env.topology.declare(conn.channel(), ["campaigns.delivery"])
    return service_env.topology.name("campaigns.delivery")


def test_email_arrives_with_encoded_headers_parts_links_and_unsubscribe(
    service_env, api, sender_for, smtp_server, events, settings
):
    queue = delivery_queue(service_env)
    timeline = Timeline(service_env)
    template = create_template(api)
    inigo = make_customer(
        email="inigo@example.com", consent={("email", "newsletter"): "granted"}, events=events
    )
    sender = sender_for()
    sender.on_send_requested(send_requested(template["id"], [inigo.id], variant="A"))

    [received] = smtp_server.mailbox.to("inigo@example.com")
    delivery = Delivery.objects.get(customer_id=inigo.id)
    assert delivery.status == "sent" and delivery.sent_at and delivery.variant == "A"
    assert received.mail_from == f"bounces+{delivery.id}@bounces.vinculo.example"  # VERP
    raw_headers = received.data.split(b"\r\n\r\n", 1)[0].decode("ascii")  # 7-bit clean headers
    assert "=?utf-8?" in raw_headers
    msg = received.parsed()
    assert msg["Return-Path"] == f"<bounces+{delivery.id}@bounces.vinculo.example>"
    assert msg["Subject"] == "¡Últimas ofertas para ti, Íñigo!"
    assert msg["From"].addresses[0].display_name == "Sofía Núñez"
    assert msg["From"].addresses[0].addr_spec == "ofertas@tienda.example"
    assert msg["To"].addresses[0].display_name == "Íñigo Núñez"
    assert msg["Message-ID"] == f"<{delivery.id}@tienda.example>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https_url, mailto = re.findall(r"<([^>]+)>", msg["List-Unsubscribe"])
    assert https_url.startswith("https://mailer.example/u/") and mailto.startswith("mailto:")
    tokens = Tokens(settings.secret_key, 3600)
    token = https_url.rsplit("/", 1)[1]
    assert tokens.verify(token, "unsubscribe") == {
        "c": str(inigo.id),
        "ch": "email",
        "t": "newsletter",
        "d": str(delivery.id),
    }
    assert msg.get_content_type() == "multipart/alternative"
    text, html = (part.get_content() for part in msg.iter_parts())
    assert "Hola Íñigo" in text and "Hola Íñigo, tienes 25,00\xa0€." in html
    # links are tracked and signed; the unsubscribe link is not rewritten; a pixel is added
    clicks = re.findall(r'href="(https://mailer.example/t/c/[^"]+)"', html)
    assert len(clicks) == 1
    assert tokens.verify(clicks[0].rsplit("/", 1)[1], "click") == [
        str(delivery.id),
        "https://tienda.example/ofertas?x=1&y=2",
    ]
    assert https_url in html and "https://mailer.example/t/o/" in html
    assert "https://tienda.example" not in text.replace(https_url, "")
    timeline.deliver()  # segments writes the timeline from delivery.sent
    assert Interaction.objects(key=f"delivery:{delivery.id}:sent", kind="message_sent").count() == 1
    [sent] = [json.loads(m.body) for m in drain(service_env.amqp_url, queue)]
    assert sent["type"] == "delivery.sent" and sent["payload"]["delivery_id"] == str(delivery.id)
    assert sent["payload"]["variant"] == "A" and sent["payload"]["campaign_id"] == "camp-1"


def test_dkim_signature_covers_the_unsubscribe_headers(dkim_key, api, sender_for, smtp_server, events):
    template = create_template(api)
    customer = make_customer(
        email="dkim@example.com", consent={("email", "newsletter"): "granted"}, events=events
    )
    sender = sender_for(**dkim_key.settings())
    sender.on_send_requested(send_requested(template["id"], [customer.id]))
    [received] = smtp_server.mailbox.to("dkim@example.com")
    signed = received.data.split(b"\r\n", 1)[1]  # without the Return-Path the server added
    assert dkim_key.verifies(signed)
    header = email.message_from_bytes(signed, policy=email.policy.default)["DKIM-Signature"]
    signed_headers = re.search(r"h=([^;]+)", str(header).replace(" ", "")).group(1).lower().split(":")
    assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject"} <= set(signed_headers)


def test_send_time_rules_and_duplicates(service_env, api, sender_for, smtp_server, events):
    template = create_template(api)
    grant = {("email", "newsletter"): "granted"}
    ok = make_customer(email="ok@example.com", consent=grant, events=events)
    no_consent = make_customer(email="no@example.com", events=events)
    revoked = make_customer(
        email="rev@example.com", consent={("email", "newsletter"): "revoked"}, events=events
    )
    flagged = make_customer(
        email="flag@example.com", consent=grant, events=events, suppression={"do_not_contact": True}
    )
    hashed = make_customer(email="hash@example.com", consent=grant, events=events)
    SuppressedContact(hash=contact_hash("email", "hash@example.com"), kind="email", reason="bounced").save()
    capped = make_customer(email="cap@example.com", consent=grant, events=events)
    for n in range(2):  # two marketing sends this week already (cap is 2 here)
        Delivery(
            campaign_id=f"old-{n}",
            customer_id=capped.id,
            step="main",
            channel="email",
            topic="newsletter",
            template_id=template["id"],
            status="sent",
            sent_at=utcnow() - datetime.timedelta(days=n + 1),
        ).save()
    Delivery(
        campaign_id="older",
        customer_id=ok.id,
        step="main",
        channel="email",
        topic="newsletter",
        template_id=template["id"],
        status="sent",
        sent_at=utcnow() - datetime.timedelta(days=8),
    ).save()
    no_email = make_customer(phone="+34600999888", consent=grant, events=events)
    ids = [ok.id, no_consent.id, revoked.id, flagged.id, hashed.id, capped.id, no_email.id]
    sender = sender_for(frequency_cap=2)
    envelope = send_requested(template["id"], ids)
    sender.on_send_requested(envelope)
    # the same batch again (redelivered) and as a new message (duplicated upstream): nothing more is sent
    sender.on_send_requested(envelope)
    sender_for(frequency_cap=2).on_send_requested(send_requested(template["id"], ids[::-1]))
    assert [m.rcpt_tos for m in smtp_server.mailbox.snapshot()] == [["ok@example.com"]]
    reasons = {d.customer_id: (d.status, d.reason) for d in Delivery.objects(campaign_id="camp-1")}
    assert reasons == {
        ok.id: ("sent", None),
        no_consent.id: ("skipped", "no_consent"),
        revoked.id: ("skipped", "no_consent"),
        flagged.id: ("skipped", "suppressed"),
        hashed.id: ("skipped", "suppressed"),
        capped.id: ("skipped", "capped"),
        no_email.id: ("skipped", "no_address"),
    }


def test_a_batch_slowed_by_the_rate_limit_keeps_its_claims_from_another_workers_sweep(
    api, sender_for, smtp_server, events
):
    """48 messages at 8 per second take 6 s, twice the 3 s lease: the sending worker renews its
    claims, so another worker's sweep near the end finds nothing abandoned and sends nothing twice."""
    import threading

    from tests.support import wait_until

    template = create_template(api)
    people = [
        make_customer(
            email=f"lento{i}@example.com", consent={("email", "newsletter"): "granted"}, events=events
        ).id
        for i in range(48)
    ]
    sender = sender_for(claim_lease=3.0, rate_email=8)
    other = sender_for(claim_lease=3.0, rate_email=8)
    swept = []

    def sweep_near_the_end():
        wait_until(lambda: smtp_server.mailbox.count >= 36, timeout=60, what="36 of the 48 messages")
        swept.append(other.sweep())

    thread = threading.Thread(target=sweep_near_the_end)
    thread.start()
    sender.on_send_requested(send_requested(template["id"], people))
    thread.join()
    assert swept == [0]  # nothing taken over (without renewals the last claims would be 4.5 s old)
    assert sorted(rcpt for m in smtp_server.mailbox.snapshot() for rcpt in m.rcpt_tos) == sorted(
        f"lento{i}@example.com" for i in range(48)
    )
    assert Delivery.objects(campaign_id="camp-1", status="sent").count() == 48
    assert Delivery.objects(recovered=True).count() == 0


def test_quiet_hours_defer_and_the_sweep_sends_when_due(api, sender_for, smtp_server, events):
    template = create_template(api)
    customer = make_customer(
        email="night@example.com",
        consent={("email", "newsletter"): "granted"},
        events=events,
        time_zone="Asia/Tokyo",
    )
    # a quiet window around the customer's local time now
    local = datetime.datetime.now(datetime.UTC).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    start = (local - datetime.timedelta(hours=1)).strftime("%H:%M")
    end = (local + datetime.timedelta(hours=1)).strftime("%H:%M")
    sender = sender_for(quiet_hours=(datetime.time.fromisoformat(start), datetime.time.fromisoformat(end)))
    sender.on_send_requested(send_requested(template["id"], [customer.id]))
    delivery = Delivery.objects.get(customer_id=customer.id)
    assert delivery.status == "deferred" and delivery.reason == "quiet_hours"
    assert delivery.due_at > utcnow() + datetime.timedelta(minutes=50)
    assert sender.sweep() == 0 and smtp_server.mailbox.count == 0  # not due yet
    # the quiet hours end (time moves on: the due time is now)
    Delivery.objects(id=delivery.id).update_one(set__due_at=utcnow() - datetime.timedelta(seconds=1))
    later = sender_for()
    assert later.sweep() == 1
    assert Delivery.objects.get(id=delivery.id).status == "sent"
    assert len(smtp_server.mailbox.to("night@example.com")) == 1
    assert later.sweep() == 0


def test_transient_then_permanent_failures_and_resend_to_failed(
    service_env, api, sender_for, smtp_server, events
):
    queue = delivery_queue(service_env)
    template = create_template(api)
    grant = {("email", "newsletter"): "granted"}
    busy = make_customer(email="busy@example.com", consent=grant, events=events)
    gone = make_customer(email="gone@example.com", consent=grant, events=events)
    fine = make_customer(email="fine@example.com", consent=grant, events=events)
    smtp_server.mailbox.rules.update(
        {"busy@example.com": "451 4.3.0 try later", "gone@example.com": "550 5.1.1 no such user"}
    )
    sender = sender_for(smtp_connections=3)  # outcomes settle from parallel SMTP sessions too
    sender.on_send_requested(send_requested(template["id"], [busy.id, gone.id, fine.id]))
    by_customer = {d.customer_id: d for d in Delivery.objects}
    assert by_customer[fine.id].status == "sent"
    assert by_customer[gone.id].status == "failed" and "550 5.1.1" in by_customer[gone.id].reason
    assert by_customer[busy.id].status == "deferred" and "451" in by_customer[busy.id].reason
    assert by_customer[busy.id].attempts == 1
    failed = [
        json.loads(m.body)
        for m in drain(service_env.amqp_url, queue)
        if json.loads(m.body)["type"] == "delivery.failed"
    ]
    assert [f["payload"]["customer_id"] for f in failed] == [str(gone.id)]
    # the relay recovers: the sweep retries the deferred one when due
    smtp_server.mailbox.rules.clear()
    Delivery.objects(id=by_customer[busy.id].id).update_one(set__due_at=utcnow())
    sender.sweep()
    assert Delivery.objects.get(id=by_customer[busy.id].id).status == "sent"
    # "resend to failed" retries only the failed one
    sender.on_send_requested(send_requested(template["id"], [busy.id, gone.id, fine.id], retry_failed=True))
    assert Delivery.objects.get(id=by_customer[gone.id].id).status == "sent"
    counts = {
        r: len(smtp_server.mailbox.to(r))
        for r in ("busy@example.com", "gone@example.com", "fine@example.com")
    }
    assert counts == {"busy@example.com": 1, "gone@example.com": 1, "fine@example.com": 1}


def test_sms_through_the_twilio_client_to_the_local_provider(api, sender_for, sms_server, events):
    template = api.post(
        "/templates",
        json={
            "name": "SMS",
            "channel": "sms",
            "variants": {"es": {"text": "Hola {{ first_name }}: 20% hoy. Baja: STOP"}},
        },
    ).get_json()
    sofia = make_customer(
        first_name="Sofía", phone="+34611222333", consent={("sms", "promotions"): "granted"}, events=events
    )
    refused = make_customer(
        first_name="Ana", phone="+34600000001", consent={("sms", "promotions"): "granted"}, events=events
    )
    sms_server.rules["+34600000001"] = (400, 21211, "Invalid 'To' Phone Number")
    sender_for().on_send_requested(
        send_requested(template["id"], [sofia.id, refused.id], channel="sms", topic="promotions")
    )
    [message] = sms_server.messages
    assert message["to"] == "+34611222333" and message["body"] == "Hola Sofía: 20% hoy. Baja: STOP"
    assert message["from"] == "+34600000000"
    sent = Delivery.objects.get(customer_id=sofia.id)
    assert sent.status == "sent" and sent.provider_id == message["sid"]
    failed = Delivery.objects.get(customer_id=refused.id)
    assert failed.status == "failed" and "21211" in failed.reason


def test_an_sms_written_with_decomposed_accents_travels_in_gsm_7(api, sender_for, sms_server, events):
    # "é" typed as e + U+0301 (pasted from a PDF) is not in the GSM alphabet; "é" is.
    text = "Cafe\u0301 gratis hoy, {{ first_name }}. " + "Ve\u0301n a la tienda. " * 4 + "Baja: STOP"
    template = api.post(
        "/templates", json={"name": "SMS NFD", "channel": "sms", "variants": {"es": {"text": text}}}
    ).get_json()
    preview = api.post(f"/templates/{template['id']}/preview", json={"sample": {"first_name": "Jose"}})
    assert preview.get_json()["sms"]["encoding"] == "GSM-7", preview.get_json()
    assert preview.get_json()["sms"]["segments"] == 1, "one message, not two or three in UCS-2"
    jose = make_customer(
        first_name="Jose", phone="+34611222334", consent={("sms", "promotions"): "granted"}, events=events
    )
    sender_for().on_send_requested(
        send_requested(template["id"], [jose.id], channel="sms", topic="promotions")
    )
    [message] = sms_server.messages
    assert message["body"].startswith("Café gratis hoy, Jose.") and "\u0301" not in message["body"]
