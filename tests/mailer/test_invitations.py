"""Double opt-in for a whole segment: a pending consent and one confirmation
message per member who has not consented yet; nothing granted; the others
counted by reason."""

from __future__ import annotations

from bson import ObjectId

from shared.models import ConsentState, Customer, Segment, SegmentMember, SuppressedContact, contact_hash
from tests.mailer.conftest import make_customer
from tests.support import ANALYST_KEY


def test_a_segment_is_invited_to_confirm_and_nobody_is_granted(app, api, events, smtp_server):
    segment = Segment(name="Feria", kind="static").save()
    people = [
        make_customer(email="ñandú@ejemplo.es", locale="es", events=events),
        make_customer(email="sofia@example.mx", locale="es-MX", events=events),
        make_customer(email="john@example.com", locale="en", events=events),
        make_customer(email="ya@example.com", consent={("email", "newsletter"): "granted"}, events=events),
        make_customer(email="no@example.com", consent={("email", "newsletter"): "revoked"}, events=events),
        make_customer(phone="+34600111222", events=events),
        make_customer(email="fuera@example.com", events=events),
    ]
    SuppressedContact(
        hash=contact_hash("email", "fuera@example.com"), kind="email", reason="complained"
    ).save()
    for person in people:
        SegmentMember(segment_id=segment.id, customer_id=person.id).save()
    answer = api.post("/opt-in-invitations", json={"segment_id": str(segment.id), "topic": "newsletter"})
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["members"], body["invited"]) == (7, 3)
    assert body["not_invited"] == {"already_granted": 1, "revoked": 1, "no_email": 1, "suppressed": 1}
    assert sorted(r for m in smtp_server.mailbox.snapshot() for r in m.rcpt_tos) == sorted(
        [people[0].email, people[1].email, people[2].email]
    )
    assert ConsentState.objects(customer_id=people[1].id).get().status == "pending"
    assert ConsentState.objects(status="granted").count() == 1  # only the one granted before
    # Again: the invited ones are pending now, nobody is mailed twice.
    again = api.post(
        "/opt-in-invitations", json={"segment_id": str(segment.id), "topic": "newsletter"}
    ).get_json()
    assert again["invited"] == 0 and again["not_invited"]["already_pending"] == 3
    assert len(smtp_server.mailbox.snapshot()) == 3


def test_invitations_refuse_what_they_cannot_do(app, api):
    assert (
        api.post(
            "/opt-in-invitations", json={"segment_id": str(ObjectId()), "topic": "newsletter"}
        ).status_code
        == 404
    )
    answer = api.post("/opt-in-invitations", json={"segment_id": "x", "topic": "service"})
    assert answer.status_code == 422 and "topic" in answer.get_json()["details"]["fields"]
    segment = Segment(name="S", kind="static").save()
    analyst = app.test_client().post(
        "/opt-in-invitations",
        headers={"X-API-Key": ANALYST_KEY},
        json={"segment_id": str(segment.id), "topic": "newsletter"},
    )
    assert analyst.status_code == 403
    assert Customer.objects.count() == 0
