"""Mail reaches the addresses people really have (RFC 6530-6533), and one
recipient's bad data is that recipient's failure alone.

Real store, real broker, real SMTP server (aiosmtpd, with and without SMTPUTF8).
"""

from __future__ import annotations

import datetime
import email.policy
from email.parser import Parser

import pytest

from devstack.smtp import SmtpServer
from services.mailer.models import Delivery
from shared.models import Customer, SuppressedContact
from shared.store import utcnow
from tests.mailer.conftest import create_template, make_customer, send_requested

GRANT = {("email", "newsletter"): "granted"}

# (as typed, as stored, as the relay sees the recipient)
WORLD = [
    ("ñandú.4@ejemplo.es", "ñandú.4@ejemplo.es", "ñandú.4@ejemplo.es"),
    ("José.Pérez@Correo.ES", "josé.pérez@correo.es", "josé.pérez@correo.es"),
    ("compras@Bücher.example", "compras@bücher.example", "compras@xn--bcher-kva.example"),
    ("ventas@xn--caf-dma.example", "ventas@café.example", "ventas@xn--caf-dma.example"),
    ('"ana maría"@example.com', '"ana maría"@example.com', '"ana maría"@example.com'),
    ("plain@example.com", "plain@example.com", "plain@example.com"),
]


def parse(received):
    """As a mail client reads it: RFC 6532 headers are UTF-8."""
    raw = received.data.split(b"\r\n", 1)[1]  # without the Return-Path the server added
    return Parser(policy=email.policy.SMTPUTF8).parsestr(raw.decode("utf-8"))


def world_customers(events):
    return [
        make_customer(email=typed, first_name="Íñigo", consent=GRANT, events=events) for typed, _, _ in WORLD
    ]


def test_the_stored_form_of_an_address_is_one_normalisation():
    for typed, stored, _ in WORLD:
        customer = Customer(email=typed)
        customer.clean()
        assert customer.email == stored


def test_a_campaign_reaches_non_ascii_idn_quoted_and_plain_addresses_each_once(
    api, sender_for, smtp_server, events
):
    template = create_template(api)
    people = world_customers(events)
    sender = sender_for()
    envelope = send_requested(template["id"], [p.id for p in people])
    sender.on_send_requested(envelope)
    sender.on_send_requested(envelope)  # redelivered: nobody twice
    received = smtp_server.mailbox.snapshot()
    assert sorted(r for m in received for r in m.rcpt_tos) == sorted(wire for _, _, wire in WORLD)
    for message in received:
        parsed = parse(message)
        [to] = parsed["To"].addresses
        assert to.addr_spec == message.rcpt_tos[0]
        assert to.display_name == "Íñigo Núñez"
        assert "Íñigo" in parsed.get_body(("plain",)).get_content()
    assert {d.status for d in Delivery.objects(campaign_id="camp-1")} == {"sent"}


def test_a_relay_without_smtputf8_fails_only_the_non_ascii_local_parts(api, sender_for, events, settings_for):
    with SmtpServer(smtputf8=False) as old_relay:
        template = create_template(api)
        people = world_customers(events)
        sender = sender_for(smtp_port=old_relay.port)
        sender.on_send_requested(send_requested(template["id"], [p.id for p in people]))
        delivered = sorted(r for m in old_relay.mailbox.snapshot() for r in m.rcpt_tos)
    assert delivered == sorted(wire for _, _, wire in WORLD if wire.split("@")[0].isascii())
    outcome = {d.address: (d.status, d.code) for d in Delivery.objects(campaign_id="camp-1")}
    for _, stored, wire in WORLD:
        expected = ("sent", None) if wire.split("@")[0].isascii() else ("failed", "smtputf8_unsupported")
        assert outcome[stored] == expected, stored


def test_dkim_verifies_a_message_to_a_non_ascii_address(dkim_key, api, sender_for, smtp_server, events):
    template = create_template(api)
    customer = make_customer(email="ñandú@ejemplo.es", consent=GRANT, events=events)
    sender = sender_for(**dkim_key.settings())
    sender.on_send_requested(send_requested(template["id"], [customer.id]))
    [received] = smtp_server.mailbox.to("ñandú@ejemplo.es")
    signed = received.data.split(b"\r\n", 1)[1]
    assert "ñandú@ejemplo.es".encode() in signed.split(b"\r\n\r\n", 1)[0]
    assert dkim_key.verifies(signed)


def test_a_name_with_cr_lf_stored_before_the_edges_refused_it_cannot_add_a_header(
    api, sender_for, smtp_server, events
):
    template = create_template(
        api, variants={"es": {"subject": "Hola {{ first_name }}", "text": "Hola {{ first_name }}"}}
    )
    customer = make_customer(email="victima@example.com", consent=GRANT, events=events)
    Customer._get_collection().update_one(  # as stored by an older version, or by hand
        {"_id": customer.id},
        {
            "$set": {
                "first_name": "Ana\r\nBcc: ladron@evil.example\r\nX-Evil: 1",
                "last_name": "Ruiz\nReply-To: ladron@evil.example",
            }
        },
    )
    sender_for().on_send_requested(send_requested(template["id"], [customer.id]))
    [received] = smtp_server.mailbox.snapshot()
    assert received.rcpt_tos == ["victima@example.com"]
    parsed = parse(received)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None and parsed["Reply-To"] is None
    assert parsed["To"].addresses[0].addr_spec == "victima@example.com"
    assert "\n" not in str(parsed["Subject"]) and str(parsed["Subject"]).startswith("Hola Ana Bcc:")


def test_a_recipient_whose_message_cannot_be_built_fails_alone_after_the_configured_attempts(
    api, sender_for, smtp_server, events
):
    template = create_template(api)
    good = [make_customer(email=f"bien{i}@example.com", consent=GRANT, events=events) for i in range(4)]
    broken = make_customer(email="roto@example.com", consent=GRANT, events=events)
    bad_domain = make_customer(email="malo@example.com", consent=GRANT, events=events)
    raw = Customer._get_collection()
    raw.update_one({"_id": broken.id}, {"$set": {"first_name": {"not": "a name"}}})  # data no edge allowed
    raw.update_one({"_id": bad_domain.id}, {"$set": {"email": "malo@bücher..example"}})
    order = [good[0].id, broken.id, good[1].id, bad_domain.id, good[2].id, good[3].id]
    sender = sender_for(worker_max_attempts=3, worker_retry_delay=0.0, worker_max_retry_delay=0.0)
    sender.on_send_requested(send_requested(template["id"], order))
    assert sorted(r for m in smtp_server.mailbox.snapshot() for r in m.rcpt_tos) == sorted(
        c.email for c in good
    )
    first = Delivery.objects.get(customer_id=broken.id)
    assert (first.status, first.code, first.attempts) == ("deferred", "build_error", 1)
    assert Delivery.objects.get(customer_id=bad_domain.id).code == "invalid_address"
    for _ in range(3):
        sender.sweep()
    final = Delivery.objects.get(customer_id=broken.id)
    assert (final.status, final.code) == ("failed", "build_error")
    assert final.attempts == 3 and "TypeError" in final.reason
    assert len(smtp_server.mailbox.snapshot()) == 4


@pytest.mark.parametrize("attempts_before, expected", [(0, "sent"), (2, "failed")])
def test_an_abandoned_claim_counts_as_an_attempt_and_is_never_retried_forever(
    api, sender_for, smtp_server, events, attempts_before, expected
):
    template = create_template(api)
    customer = make_customer(email="abandonado@example.com", consent=GRANT, events=events)
    long_ago = utcnow() - datetime.timedelta(hours=1)
    Delivery(
        campaign_id="camp-1",
        customer_id=customer.id,
        step="main",
        channel="email",
        topic="newsletter",
        template_id=template["id"],
        template_version=1,
        status="sending",
        claim="dead-worker",
        claimed_at=long_ago,
        attempts=attempts_before,
        address=customer.email,
    ).save()
    sender_for(worker_max_attempts=3, claim_lease=60).sweep()
    delivery = Delivery.objects.get(customer_id=customer.id)
    assert delivery.status == expected
    if expected == "failed":
        assert delivery.code == "abandoned" and not smtp_server.mailbox.snapshot()
    else:
        assert delivery.recovered and delivery.attempts == 1


def test_double_opt_in_and_test_send_reach_a_non_ascii_address(api, events, smtp_server):
    from shared.models import ConsentState

    customer = make_customer(email="ñandú@ejemplo.es", events=events)
    answer = api.post("/subscriptions", json={"email": "Ñandú@Ejemplo.ES", "topic": "newsletter"})
    assert answer.status_code == 202, answer.get_json()
    assert ConsentState.objects.get(customer_id=customer.id).status == "pending"
    [confirmation] = smtp_server.mailbox.to("ñandú@ejemplo.es")
    assert parse(confirmation)["To"].addresses[0].addr_spec == "ñandú@ejemplo.es"
    quoted = make_customer(email='"ana maría"@example.com', events=events)
    assert (
        api.post(
            "/subscriptions", json={"email": '"Ana María"@example.com', "topic": "newsletter"}
        ).status_code
        == 202
    )
    assert ConsentState.objects.get(customer_id=quoted.id).status == "pending"
    refused = api.post("/subscriptions", json={"email": "ana@@example.com", "topic": "newsletter"})
    assert refused.status_code == 422 and "email" in refused.get_json()["details"]["fields"]
    template = create_template(api)
    sent = api.post(f"/templates/{template['id']}/test-send", json={"to": "josé@bücher.example"})
    assert sent.status_code == 200, sent.get_json()
    [test_copy] = smtp_server.mailbox.to("josé@xn--bcher-kva.example")
    assert parse(test_copy)["To"].addresses[0].addr_spec == "josé@xn--bcher-kva.example"


def test_the_preference_center_refuses_a_name_with_a_line_break(app, events):
    from tests.mailer.test_preferences import csrf_of, link

    customer = make_customer(email="lia@example.com", first_name="Lía", events=events)
    token = link(app, customer.id)
    browser = app.test_client()
    csrf = csrf_of(browser.get(f"/p/{token}"))
    answer = browser.post(
        f"/p/{token}/profile",
        data={"csrf": csrf, "first_name": "Lía\r\nBcc: x@evil.example", "last_name": ""},
    )
    assert answer.status_code == 422
    assert Customer.objects.get(id=customer.id).first_name == "Lía"


def test_reachability_counts_a_segment_by_the_send_time_rules_before_sending(api, events, smtp_server):
    from shared.models import Segment, SegmentMember, SuppressedContact, contact_hash

    granted = [make_customer(email=f"si{i}@example.com", consent=GRANT, events=events) for i in range(2)]
    pending = make_customer(
        email="pend@example.com", consent={("email", "newsletter"): "pending"}, events=events
    )
    revoked = make_customer(
        email="rev@example.com", consent={("email", "newsletter"): "revoked"}, events=events
    )
    never = [make_customer(email=f"no{i}@example.com", events=events) for i in range(3)]
    bounced = make_customer(email="bounced@example.com", consent=GRANT, events=events)
    SuppressedContact(
        hash=contact_hash("email", "bounced@example.com"), kind="email", reason="bounced"
    ).save()
    segment = Segment(name="Madrid", kind="static").save()
    for person in [*granted, pending, revoked, *never, bounced]:
        SegmentMember(segment_id=segment.id, customer_id=person.id).save()
    answer = api.post(
        "/reachability", json={"segment_id": str(segment.id), "channel": "email", "topic": "newsletter"}
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert (body["in_segment"], body["reachable"]) == (8, 2)
    assert body["not_reachable"] == {
        "no_consent": 3,
        "consent_pending": 1,
        "consent_revoked": 1,
        "suppressed": 1,
    }
    assert not smtp_server.mailbox.snapshot()
    assert (
        api.post(
            "/reachability", json={"segment_id": "0" * 24, "channel": "email", "topic": "newsletter"}
        ).status_code
        == 404
    )
    assert (
        api.post(
            "/reachability", json={"segment_id": str(segment.id), "channel": "fax", "topic": "newsletter"}
        ).status_code
        == 422
    )


def test_the_deliveries_api_lists_who_was_not_sent_for_a_reason_and_shows_a_stuck_claim(
    api, sender_for, events
):
    template = create_template(api)
    pending = make_customer(
        email="pend@example.com", consent={("email", "newsletter"): "pending"}, events=events
    )
    never = make_customer(email="nunca@example.com", events=events)
    sender_for().on_send_requested(send_requested(template["id"], [pending.id, never.id]))
    listed = api.get(
        "/deliveries", query_string={"campaign_id": "camp-1", "code": "consent_pending"}
    ).get_json()
    assert [d["customer_id"] for d in listed["items"]] == [str(pending.id)]
    assert listed["items"][0]["status"] == "skipped" and listed["items"][0]["stuck"] is False
    stuck = make_customer(email="atascado@example.com", consent=GRANT, events=events)
    Delivery(
        campaign_id="camp-2",
        customer_id=stuck.id,
        step="main",
        channel="email",
        topic="newsletter",
        template_id=template["id"],
        status="sending",
        claim="gone",
        claimed_at=utcnow() - datetime.timedelta(hours=2),
    ).save()
    [item] = api.get("/deliveries", query_string={"campaign_id": "camp-2"}).get_json()["items"]
    assert item["status"] == "sending" and item["stuck"] is True


BOUNCE = """From: MAILER-DAEMON@mx.example.com
To: postmaster@tienda.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: {kind}; {address}
Action: failed
Status: 5.1.1

--B--
"""


@pytest.mark.parametrize(
    "typed, reported",
    [
        # The relay reports the address as it went on the wire: the domain as A-labels.
        ("compras@Bücher.example", ("rfc822", "compras@xn--bcher-kva.example")),
        ("Compras2@Bücher.example", ("rfc822", "COMPRAS2@XN--BCHER-KVA.EXAMPLE")),
        # RFC 6533: a non-ASCII address in a DSN, decomposed by the reporting system.
        ("ñandú.9@ejemplo.es", ("utf-8", "n\u0303andu\u0301.9@ejemplo.es")),
        ("ñandú.10@ejemplo.es", ("utf-8", "\\x{F1}and\\x{FA}.10@ejemplo.es")),  # its xtext escapes
    ],
)
def test_a_hard_bounce_reported_in_the_wire_form_suppresses_the_stored_address(
    admin_api, events, typed, reported
):
    from shared.models import SuppressedContact, contact_hash

    customer = make_customer(email=typed, first_name="Íñigo", consent=GRANT, events=events)
    kind, address = reported
    body = BOUNCE.format(kind=kind, address=address).encode()
    answer = admin_api.post("/bounces", data=body, content_type="message/rfc822")
    assert answer.status_code == 200 and answer.get_json()["suppressed"], answer.get_json()
    assert answer.get_json()["address"] == customer.email, "the stored form, found by the report"
    assert SuppressedContact.is_suppressed("email", customer.email), (
        "the suppression list holds another address than the one the mailer sends to"
    )
    assert SuppressedContact.objects(hash=contact_hash("email", customer.email)).count() == 1


def test_a_dsn_whose_diagnostic_quotes_a_non_ascii_address_is_taken_not_a_500(admin_api, events):
    """RFC 6533: a relay's diagnostic quotes the address in raw UTF-8 (the parser hands such a
    field over as a Header object, not a str)."""
    customer = make_customer(email="ñandú.11@ejemplo.es", first_name="Íñigo", consent=GRANT, events=events)
    body = BOUNCE.format(kind="utf-8", address=customer.email).replace(
        "Status: 5.1.1\n", f"Status: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <{customer.email}> unknown\n"
    )
    answer = admin_api.post("/bounces", data=body.encode(), content_type="message/rfc822")
    assert answer.status_code == 200 and answer.get_json()["suppressed"], answer.get_json()
    assert answer.get_json()["kind"] == "hard" and answer.get_json()["status"] == "5.1.1"
    assert SuppressedContact.is_suppressed("email", customer.email)
