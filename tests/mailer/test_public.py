"""Links customers follow and reports the relay forwards: one-click
unsubscribe, open pixel, click redirect, bounces and complaints."""

from __future__ import annotations

import json
import re

from kombu import Connection

from services.mailer.models import Delivery
from services.segments.consumers import on_contact_suppressed
from shared.models import ConsentEntry, ConsentState, Customer, Interaction, SuppressedContact, contact_hash
from tests.mailer.conftest import create_template, make_customer, send_requested
from tests.support import Handover, Timeline, drain


def sent_message(api, sender_for, smtp_server, events, address="pia@example.com", **fields):
    template = create_template(api)
    customer = make_customer(
        email=address, consent={("email", "newsletter"): "granted"}, events=events, **fields
    )
    sender_for().on_send_requested(send_requested(template["id"], [customer.id]))
    [received] = smtp_server.mailbox.to(address)
    return customer, Delivery.objects.get(customer_id=customer.id), received.parsed()


def mailer_events(service_env):
    with Connection(service_env.amqp_url) as conn:
        service_env.topology.declare(conn.channel(), ["segments.facts"])
    return service_env.topology.name("segments.facts")


def test_one_click_unsubscribe_get_changes_nothing_post_revokes_once(
    service_env, app, api, sender_for, smtp_server, events
):
    queue = mailer_events(service_env)
    customer, delivery, msg = sent_message(api, sender_for, smtp_server, events)
    drain(service_env.amqp_url, queue)
    url = re.findall(r"<([^>]+)>", msg["List-Unsubscribe"])[0]
    path = url.replace("https://mailer.example", "")
    browser = app.test_client()  # no API key: customers have none
    page = browser.get(path)
    assert page.status_code == 200 and "Darme de baja" in page.get_data(as_text=True)
    assert 'method="post"' in page.get_data(as_text=True)
    assert (
        ConsentState.objects.get(customer_id=customer.id).status == "granted"
    )  # a scanner's GET did nothing
    assert ConsentEntry.objects(customer_id=customer.id).count() == 1
    # RFC 8058: the mail client POSTs List-Unsubscribe=One-Click
    for _ in range(2):
        done = browser.post(path, data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and "no volverás a recibir" in done.get_data(as_text=True)
    assert ConsentState.objects.get(customer_id=customer.id).status == "revoked"
    [entry] = ConsentEntry.objects(customer_id=customer.id, source="unsubscribe")
    assert entry.status == "revoked" and entry.topic == "newsletter"
    changed = [json.loads(m.body) for m in drain(service_env.amqp_url, queue) if m.headers]
    changed = [c for c in changed if c["type"] == "consent.changed"]
    assert len({c["message_id"] for c in changed}) == 1
    assert changed[0]["payload"] == {
        "customer_id": str(customer.id),
        "channel": "email",
        "topic": "newsletter",
        "status": "revoked",
        "source": "unsubscribe",
        "campaign_id": delivery.campaign_id,
    }
    # a token for another purpose, or tampered with, is refused
    click = re.search(
        r'href="https://mailer.example(/t/c/[^"]+)"', msg.get_body(("html",)).get_content()
    ).group(1)
    assert browser.post("/u/" + click.rsplit("/", 1)[1]).status_code == 400
    assert browser.post(path[:-3] + "abc").status_code == 400
    # the next send respects it
    smtp_server.mailbox.messages.clear()
    sender_for().on_send_requested(send_requested(delivery.template_id, [customer.id], campaign_id="camp-2"))
    assert (
        smtp_server.mailbox.count == 1 and Delivery.objects.get(campaign_id="camp-2").reason == "no_consent"
    )


def test_a_reply_to_the_mailto_unsubscribe_revokes_once_and_a_mail_without_its_token_is_refused(
    service_env, admin_api, api, sender_for, smtp_server, events
):
    import urllib.parse
    from email.message import EmailMessage

    queue = mailer_events(service_env)
    customer, delivery, msg = sent_message(api, sender_for, smtp_server, events, address="pepa@example.com")
    drain(service_env.amqp_url, queue)
    mailto = urllib.parse.urlsplit(re.findall(r"<([^>]+)>", msg["List-Unsubscribe"])[1])
    assert mailto.scheme == "mailto" and mailto.path == "unsubscribe@vinculo.example"

    def reply(subject: str) -> bytes:
        """What a mail client sends for the mailto: target (RFC 6068: the subject from the query)."""
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "Pepa <pepa@example.com>", mailto.path, subject
        mail.set_content("Por favor, darme de baja.")
        return bytes(mail)

    subject = urllib.parse.parse_qs(mailto.query)["subject"][0]
    for _ in range(2):  # sent twice: one ledger entry
        answer = admin_api.post("/unsubscribes/mail", data=reply(subject), content_type="message/rfc822")
        assert answer.status_code == 200, answer.json
        assert answer.json == {
            "customer_id": str(customer.id),
            "channel": "email",
            "topic": "newsletter",
            "revoked": True,
        }
    assert ConsentState.objects.get(customer_id=customer.id).status == "revoked"
    [entry] = ConsentEntry.objects(customer_id=customer.id, source="unsubscribe")
    assert entry.note == "mailto unsubscribe"
    changed = [json.loads(m.body) for m in drain(service_env.amqp_url, queue)]
    assert len({c["message_id"] for c in changed}) == 1  # a repeat announces the same change (same id)
    assert {(c["type"], c["payload"]["status"], c["payload"]["campaign_id"]) for c in changed} == {
        ("consent.changed", "revoked", delivery.campaign_id)
    }

    for bad in (reply("unsubscribe"), reply("Re: baja"), reply(subject[:-4] + "abcd")):
        refused = admin_api.post("/unsubscribes/mail", data=bad, content_type="message/rfc822")
        assert refused.status_code == 422 and "subject" in refused.json["details"]["fields"], refused.json
    assert api.post("/unsubscribes/mail", data=reply(subject)).status_code == 403  # marketers may not


def test_open_and_click_recorded_once_and_no_open_redirect(
    service_env, app, api, sender_for, smtp_server, events
):
    queue = mailer_events(service_env)
    timeline = Timeline(service_env)
    customer, delivery, msg = sent_message(api, sender_for, smtp_server, events)
    html = msg.get_body(("html",)).get_content()
    pixel = re.search(r'src="https://mailer.example(/t/o/[^"]+)"', html).group(1)
    click = re.search(r'href="https://mailer.example(/t/c/[^"]+)"', html).group(1)
    browser = app.test_client()
    for _ in range(3):
        image = browser.get(pixel)
        assert image.status_code == 200 and image.mimetype == "image/gif"
        response = browser.get(click)
        assert response.status_code == 302
        assert response.headers["Location"] == "https://tienda.example/ofertas?x=1&y=2"
    stored = Delivery.objects.get(id=delivery.id)
    assert stored.opened_at and stored.clicked_at
    timeline.deliver()  # segments writes the timeline from delivery.opened/clicked
    assert Interaction.objects(customer_id=customer.id, kind="message_opened").count() == 1
    assert Interaction.objects(customer_id=customer.id, kind="message_clicked").count() == 1
    bodies = [json.loads(m.body) for m in drain(service_env.amqp_url, queue)]
    kinds = [b["type"] for b in bodies if b["type"].startswith("delivery.")]
    assert sorted(kinds) == ["delivery.clicked", "delivery.opened", "delivery.sent"]
    clicked = next(b for b in bodies if b["type"] == "delivery.clicked")
    assert clicked["payload"]["url"] == "https://tienda.example/ofertas?x=1&y=2"
    # no open redirect: a forged or altered token, or any other URL, goes nowhere
    assert browser.get("/t/c/" + "x" * 40).status_code == 404
    forged = click[:-5] + ("AAAAA" if not click.endswith("AAAAA") else "BBBBB")
    assert browser.get(forged).status_code == 404
    assert browser.get(pixel.replace("/t/o/", "/t/c/").removesuffix(".gif")).status_code == 404


DSN = """From: MAILER-DAEMON@mx.example.com
To: bounces+{delivery}@bounces.vinculo.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Delivery failed.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; {address}
Action: failed
Status: {status}
Diagnostic-Code: smtp; {code} mailbox unavailable

--B
Content-Type: text/rfc822-headers

Message-ID: <{delivery}@tienda.example>
To: {address}
Subject: hola

--B--
"""

ARF = """From: fbl@isp.example
To: abuse@tienda.example
Subject: FW: complaint
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

This is an email abuse report.

--F
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: isp-fbl/1.0
Version: 1
Original-Rcpt-To: {address}

--F
Content-Type: message/rfc822

Message-ID: <{delivery}@tienda.example>
To: {address}
Subject: hola

hola
--F--
"""


def test_hard_bounce_suppresses_soft_does_not_and_complaint_revokes(
    service_env, admin_api, api, sender_for, smtp_server, events
):
    queue = mailer_events(service_env)
    # segments (owner of the profile) sets suppression.* from the mailer's contact.suppressed
    to_segments = Handover(service_env, "mailer", "contact.suppressed", on_contact_suppressed)
    timeline = Timeline(service_env)
    customer, delivery, _ = sent_message(api, sender_for, smtp_server, events, address="hard@example.com")
    post = lambda body: admin_api.post("/bounces", data=body.encode(), content_type="message/rfc822")  # noqa: E731
    soft = post(DSN.format(delivery=delivery.id, address="hard@example.com", status="4.2.2", code="452"))
    assert soft.get_json()["kind"] == "soft" and soft.get_json()["suppressed"] is False
    assert Delivery.objects.get(id=delivery.id).status == "sent"
    hard = post(DSN.format(delivery=delivery.id, address="hard@example.com", status="5.1.1", code="550"))
    assert hard.status_code == 200, hard.get_json()
    assert hard.get_json() == {
        "kind": "hard",
        "delivery_id": str(delivery.id),
        "address": "hard@example.com",
        "suppressed": True,
        "status": "5.1.1",
    }
    assert Delivery.objects.get(id=delivery.id).status == "bounced"
    assert to_segments.deliver() == 1
    stored = Customer.objects.get(id=customer.id)
    assert stored.suppression.bounced and stored.suppression.any and stored.first_name == "Íñigo"
    assert (
        SuppressedContact.objects(hash=contact_hash("email", "hard@example.com"), reason="bounced").count()
        == 1
    )
    timeline.deliver()  # segments writes the timeline from delivery.bounced
    assert Interaction.objects(kind="message_bounced", customer_id=customer.id).count() == 1
    post(DSN.format(delivery=delivery.id, address="hard@example.com", status="5.1.1", code="550"))  # again
    assert (
        to_segments.deliver() == 1
    )  # announced again under the same message id: applying it changes nothing
    assert Customer.objects.get(id=customer.id).suppression.bounced
    timeline.deliver()
    assert Interaction.objects(kind="message_bounced", customer_id=customer.id).count() == 1
    bounced = [json.loads(m.body) for m in drain(service_env.amqp_url, queue)]
    assert [b["type"] for b in bounced].count("delivery.bounced") == 1

    other, delivery2, _ = sent_message(api, sender_for, smtp_server, events, address="angry@example.com")
    complaint = post(ARF.format(delivery=delivery2.id, address="angry@example.com"))
    assert complaint.get_json()["kind"] == "complaint" and complaint.get_json()["suppressed"]
    assert to_segments.deliver() == 1
    assert Customer.objects.get(id=other.id).suppression.complained
    assert ConsentState.objects.get(customer_id=other.id).status == "revoked"
    assert ConsentEntry.objects(customer_id=other.id, source="complaint").count() == 1
    bad = post("Subject: hi\n\nnot a report")
    assert bad.status_code == 422 and bad.get_json()["details"]["fields"]["body"]
    assert api.post("/bounces", data=b"x").status_code == 403  # marketers may not
