"""Reachability: who a campaign to a segment would reach on a channel and topic, and why not the rest."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Dict, Integer, String
from apiflask.validators import Length, OneOf

from services.mailer import reachability as domain
from services.mailer.api.common import settings
from services.mailer.models import CHANNELS
from shared.http.auth import roles
from shared.http.paging import object_id
from shared.models import TOPICS

bp = APIBlueprint("audience", __name__, url_prefix="/reachability", tag="deliveries")


class ReachabilityIn(Schema):
    segment_id = String(required=True, validate=Length(1, 64))
    channel = String(required=True, validate=OneOf(CHANNELS))
    topic = String(required=True, validate=OneOf(TOPICS))
    marketing = Boolean(load_default=True)


class ReachabilityOut(Schema):
    segment_id = String()
    channel = String()
    topic = String()
    in_segment = Integer()
    reachable = Integer(metadata={"description": "would be sent now or after quiet hours"})
    deferred = Dict(
        keys=String(), values=Integer(), metadata={"description": "reachable, later: quiet_hours"}
    )
    not_reachable = Dict(
        keys=String(),
        values=Integer(),
        metadata={
            "description": "per reason: no_consent, consent_pending, consent_revoked, suppressed, no_address, "
            "capped, paused, not_transactional_topic, unknown_customer"
        },
    )


@bp.post("")
@roles("marketer", "analyst")
@bp.input(ReachabilityIn, arg_name="body")
@bp.output(ReachabilityOut)
@bp.doc(responses={404: "no such segment"})
def post_reachability(body):
    """How many of a segment a send on this channel and topic would reach now, and why not the others."""
    segment_id = object_id(body["segment_id"], "segment")
    return domain.reachability(segment_id, body["channel"], body["topic"], body["marketing"], settings())
