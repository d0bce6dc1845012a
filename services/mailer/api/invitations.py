"""Double opt-in for a whole segment (``services/mailer/invitations.py`` holds the rules)."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Dict, Integer, String
from apiflask.validators import OneOf

from services.mailer import invitations
from services.mailer.api.prefpages import confirm_url, visit
from services.mailer.prefcenter import MARKETING_TOPICS
from shared.http.auth import roles

bp = APIBlueprint("invitations", __name__, tag="consents")


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
    return invitations.invite_segment(
        visit(), json_data["segment_id"], json_data["topic"], confirm_url=confirm_url
    )
