"""Double opt-in for a whole segment: each member with an address and no
consent yet gets a pending consent (with its expiry) and the confirmation
message the public subscribe form sends. Nothing is granted until the person
confirms; who was not invited is counted by reason."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Dict, Integer, String
from apiflask.validators import OneOf
from flask import request

from services.mailer.api.prefpages import MARKETING_TOPICS
from services.mailer.transport import PermanentFailure, TransientFailure
from shared.http.auth import roles
from shared.http.errors import field_error, not_found
from shared.http.paging import object_id
from shared.models import ConsentState, Customer, Segment, SegmentMember, SuppressedContact, contact_hash
from shared.store import utcnow

bp = APIBlueprint("invitations", __name__, tag="consents")
MAX_MEMBERS = 5000  # one request sends the messages: a bigger audience is split into segments


class InvitationIn(Schema):
    segment_id = String(required=True)
    topic = String(required=True, validate=OneOf(MARKETING_TOPICS))


class InvitationOut(Schema):
    segment_id = String()
    topic = String()
    members = Integer()
    invited = Integer()
    not_invited = Dict(
        keys=String(),
        values=Integer(),
        metadata={
            "description": "reason -> count: already_granted, already_pending, revoked, no_email, suppressed, erased, "
            "send_failed"
        },
    )


@bp.post("/opt-in-invitations")
@roles("marketer")
@bp.input(InvitationIn)
@bp.output(InvitationOut, status_code=201)
@bp.doc(responses={404: "no such segment"})
def invite(json_data):
    """Send the double opt-in confirmation to every member of a segment who has not consented yet."""
    from services.mailer.api.preferences_data import start_opt_in

    oid = object_id(json_data["segment_id"], "segment")
    if not Segment.objects(id=oid).only("id").first():
        raise not_found("segment", json_data["segment_id"])
    topic = json_data["topic"]
    ids = [
        doc["customer_id"]
        for doc in SegmentMember._get_collection().find({"segment_id": oid}, {"customer_id": 1})
    ]
    if len(ids) > MAX_MEMBERS:
        raise field_error(
            "segment_id", f"the segment has {len(ids)} members; invite at most {MAX_MEMBERS} at once"
        )
    now = utcnow()
    states = {
        doc["customer_id"]: (
            "expired"
            if doc["status"] == "pending" and doc.get("expires_at") and doc["expires_at"] < now
            else doc["status"]
        )
        for doc in ConsentState._get_collection().find(
            {"customer_id": {"$in": ids}, "channel": "email", "topic": topic},
            {"customer_id": 1, "status": 1, "expires_at": 1},
        )
    }
    people = Customer._get_collection().find({"_id": {"$in": ids}}, {"email": 1, "locale": 1, "erased": 1})
    skipped: dict[str, int] = {}
    invited = 0
    for person in people:
        status = states.get(person["_id"])
        reason = None
        if person.get("erased"):
            reason = "erased"
        elif not person.get("email"):
            reason = "no_email"
        elif status == "granted":
            reason = "already_granted"
        elif status == "pending":
            reason = "already_pending"
        elif status in ("revoked", "denied"):
            reason = "revoked"  # they said no: an invitation would be unwanted mail
        elif SuppressedContact.objects(hash=contact_hash("email", person["email"])).only("id").first():
            reason = "suppressed"
        if reason is None:
            try:
                start_opt_in(
                    person["email"], [topic], person.get("locale") or "es", request.remote_addr, create=False
                )
                invited += 1
                continue
            except (TransientFailure, PermanentFailure):
                reason = "send_failed"
        skipped[reason] = skipped.get(reason, 0) + 1
    return {
        "segment_id": str(oid),
        "topic": topic,
        "members": len(ids),
        "invited": invited,
        "not_invited": skipped,
    }
