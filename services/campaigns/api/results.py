"""Results of a campaign: totals, per variant, and over time for charts."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Dict, Float, Integer, List, Nested, Raw, String
from apiflask.validators import OneOf

from services.campaigns import results
from services.campaigns.api.campaigns import READERS, load
from services.campaigns.schedules import zone
from shared.http.auth import roles

bp = APIBlueprint("campaign_results", __name__, url_prefix="/campaigns", tag="results")


class Figures(Schema):
    targeted = Integer()
    sent = Integer()
    delivered = Integer()
    failed = Integer()
    skipped = Integer(metadata={"description": "not sent by rule (consent, suppression, cap, ...)"})
    bounced = Integer()
    opened = Integer()
    clicked = Integer()
    unsubscribed = Integer()
    conversions = Integer()
    revenue = Float()
    revenue_other_currencies = Integer()
    open_rate = Float(allow_none=True)
    click_rate = Float(allow_none=True)
    conversion_rate = Float(allow_none=True)


class VariantFigures(Figures):
    variant = String()


class ResultsOut(Figures):
    campaign_id = String()
    state = String()
    currency = String()
    cost = Float(allow_none=True)
    roi = Float(allow_none=True, metadata={"description": "(revenue - cost) / cost; null without a cost"})
    variants = List(Nested(VariantFigures))
    pending = Integer(
        metadata={"description": "targeted but not yet sent, skipped or failed (sending, deferred)"}
    )
    not_sent = Dict(
        keys=String(),
        values=Integer(),
        metadata={
            "description": "who was not sent, per reason: no_consent, consent_pending, consent_revoked, suppressed, "
            "erased, no_address, invalid_address, smtputf8_unsupported, capped, paused, "
            "provider_rejected, build_error, abandoned, ..."
        },
    )
    computed_at = String()


class TimelineQuery(Schema):
    bucket = String(load_default="hour", validate=OneOf(("hour", "day")))
    time_zone = String(load_default="UTC")


class TimelineOut(Schema):
    bucket = String()
    time_zone = String()
    points = List(Raw())


@bp.get("/<campaign_id>/results")
@bp.output(ResultsOut)
@roles(*READERS)
def get_results(campaign_id):
    """Targeted, sent, delivered, failed, bounced, opened, clicked, unsubscribed, conversions, revenue, ROI."""
    return results.compute(load(campaign_id))


@bp.get("/<campaign_id>/results/timeline")
@bp.input(TimelineQuery, location="query", arg_name="query")
@bp.output(TimelineOut)
@roles(*READERS)
def get_timeline(campaign_id, query):
    """Delivery events and conversions per hour or day, in a time zone."""
    zone(query["time_zone"], field="time_zone")
    return {
        "bucket": query["bucket"],
        "time_zone": query["time_zone"],
        "points": results.timeline(load(campaign_id), query["bucket"], query["time_zone"]),
    }
