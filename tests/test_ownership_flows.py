"""Across the service boundary, as processes on the real broker and store: each service
writes only its own collections and learns the others' facts from their events or APIs
(tests/test_ownership.py checks the code; these check the flows)."""

from __future__ import annotations

import requests
from bson import ObjectId

from devstack import procs
from shared.models import Customer, SuppressedContact
from tests.mailer.test_public import DSN
from tests.support import ADMIN_KEY, ANALYST_KEY, MARKETER_KEY, wait_consuming, wait_until


def customer_in_segments(segments: str, **fields) -> str:
    answer = requests.post(
        f"{segments}/customers", json=fields, headers={"X-API-Key": MARKETER_KEY}, timeout=10
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_a_hard_bounce_in_the_mailer_ends_as_the_profiles_suppression_in_segments(service_env):
    segments = service_env.start_api("segments")
    service_env.start("segments", "worker")
    mailer = service_env.start_api("mailer")
    wait_consuming(service_env.amqp_url, service_env.topology.name("segments.facts"))
    customer_id = customer_in_segments(segments, email="rebota@example.com", first_name="Rita")

    report = DSN.format(delivery=ObjectId(), address="rebota@example.com", status="5.1.1", code="550")
    answer = requests.post(
        f"{mailer}/bounces",
        data=report.encode(),
        headers={"X-API-Key": ADMIN_KEY, "Content-Type": "message/rfc822"},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["suppressed"] is True, answer.text
    assert SuppressedContact.is_suppressed("email", "rebota@example.com")  # the mailer's own list

    def suppressed():
        return Customer.objects.get(id=customer_id).suppression

    wait_until(lambda: suppressed().bounced, what="segments to set suppression.bounced from the event")
    assert suppressed().reason.startswith("hard: 5.1.1") and suppressed().at is not None
    assert Customer.objects.get(id=customer_id).first_name == "Rita"


def test_an_erasure_in_segments_reaches_the_mailers_suppression_list_through_an_event(service_env):
    segments = service_env.start_api("segments")
    service_env.start("mailer", "worker", VINCULO_MAILER_QUIET_HOURS="")
    wait_consuming(service_env.amqp_url, service_env.topology.name("mailer.customer.erased"))
    customer_id = customer_in_segments(segments, email="olvidame@example.com", phone="+34611999888")

    headers = {"X-API-Key": MARKETER_KEY}
    assert (
        requests.delete(f"{segments}/customers/{customer_id}", headers=headers, timeout=10).status_code == 204
    )
    wait_until(
        lambda: (
            SuppressedContact.is_suppressed("email", "olvidame@example.com")
            and SuppressedContact.is_suppressed("phone", "+34611999888")
        ),
        what="the mailer to add the erased contacts to its suppression list",
    )
    assert {s.reason for s in SuppressedContact.objects} == {"erased"}
    again = requests.post(
        f"{segments}/customers", json={"email": "olvidame@example.com"}, headers=headers, timeout=10
    )
    assert again.status_code == 409 and again.json()["details"]["field"] == "email"


def test_a_campaign_whose_template_the_mailer_lacks_is_refused_and_a_down_mailer_is_a_503(service_env):
    from services.mailer.models import Template
    from shared.models import Segment

    mailer = service_env.start_api("mailer")
    mailer_proc = service_env.processes[-1]
    campaigns = service_env.start_api(
        "campaigns", VINCULO_CAMPAIGNS_MAILER_URL=mailer, VINCULO_CAMPAIGNS_MAILER_API_KEY=ANALYST_KEY
    )
    segment = Segment(name="s", kind="static").save()
    known = Template(name="bienvenida", channel="email").save()

    def create(template_id):
        body = {
            "name": "otoño",
            "channel": "email",
            "topic": "newsletter",
            "segment_id": str(segment.id),
            "template_id": str(template_id),
        }
        return requests.post(
            f"{campaigns}/campaigns", json=body, headers={"X-API-Key": MARKETER_KEY}, timeout=15
        )

    assert create(known.id).status_code == 201
    missing = ObjectId()
    refused = create(missing)
    assert refused.status_code == 422
    assert refused.json()["details"]["fields"]["template_id"] == [f"unknown template {missing}"]

    procs.stop(mailer_proc)
    down = create(known.id)
    assert down.status_code == 503
    assert down.json()["error"] == "unavailable" and down.json()["details"]["service"] == "mailer"
