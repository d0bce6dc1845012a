"""Request and response schemas of the campaigns API (documented in /openapi.json)."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Dict, Float, Integer, List, Nested, Raw, String
from apiflask.validators import Length, OneOf, Range, Regexp

from shared.http.paging import page_of
from shared.models import TOPICS


class VariantIn(Schema):
    name = String(
        required=True,
        validate=[Length(1, 50), Regexp(r"^[A-Za-z0-9_-]+$")],
        metadata={"description": "the variant's key in results (letters, digits, - and _)"},
    )
    label = String(
        load_default=None,
        allow_none=True,
        validate=Length(1, 100),
        metadata={"description": "what people read (free text, spaces and accents); default: the name"},
    )
    template_id = String(required=True)
    split = Float(required=True, validate=Range(min=0, max=100, min_inclusive=False))


class AbTestIn(Schema):
    test_share = Float(
        load_default=20,
        validate=Range(min=0, max=100, min_inclusive=False),
        metadata={"description": "percent of the audience that gets the variants"},
    )
    metric = String(load_default="open", validate=OneOf(("open", "click")))
    window_hours = Float(load_default=4, validate=Range(min=0, min_inclusive=False))
    min_sample = Integer(
        load_default=100,
        validate=Range(min=1),
        metadata={"description": "sends per variant below which the first variant wins"},
    )


class GoalIn(Schema):
    kind = String(load_default="purchase", validate=OneOf(("purchase",)))
    window_hours = Float(load_default=72, validate=Range(min=0, min_inclusive=False))


class CampaignIn(Schema):
    name = String(required=True, validate=Length(1, 200))
    channel = String(required=True, validate=OneOf(("email", "sms")))
    topic = String(required=True, validate=OneOf(TOPICS))
    segment_id = String(allow_none=True)
    template_id = String(allow_none=True)
    variants = List(Nested(VariantIn), load_default=list)
    ab_test = Nested(AbTestIn, allow_none=True)
    schedule = Dict(
        allow_none=True,
        metadata={
            "description": (
                "{kind: now} | {kind: at, at: '2026-12-01T09:00', time_zone: 'Europe/Madrid'} | "
                "{kind: cron, cron: '0 9 * * 1', time_zone} | "
                "{kind: trigger, event, filter: {field: value | {$op: value}}, delay_seconds}"
            )
        },
    )
    cost = Float(allow_none=True, validate=Range(min=0))
    currency = String(validate=Length(3, 3))
    goal = Nested(GoalIn, allow_none=True)
    journey = Dict(
        allow_none=True,
        metadata={
            "description": (
                "{reentry: never|after_exit, steps: [{id, type: send, template_id} | {type: wait, hours|days|minutes}"
                " | {type: branch, if: opened|clicked|not_opened|not_clicked, of: <send step>, then, else}]}"
            )
        },
    )


class CampaignOut(Schema):
    id = String()
    name = String()
    channel = String()
    topic = String()
    segment_id = String(allow_none=True)
    template_id = String(allow_none=True)
    variants = Raw()
    ab_test = Raw(allow_none=True)
    schedule = Raw(allow_none=True)
    cost = Float(allow_none=True)
    currency = String()
    goal = Raw(allow_none=True)
    journey = Raw(allow_none=True)
    state = String()
    paused_from = String(allow_none=True)
    failure_reason = String(allow_none=True)
    next_fire_at = String(allow_none=True)
    current_run = String(allow_none=True)
    missed_runs = Integer()
    created_at = String()
    updated_at = String()


CampaignList = page_of("CampaignList", CampaignOut)


class RunsQuery(Schema):
    limit = Integer(load_default=100, validate=Range(min=1, max=100))
    cursor = String(load_default=None, metadata={"description": "the `next` of the previous page"})


class ListQuery(Schema):
    limit = Integer(load_default=50, validate=Range(min=1, max=200))
    cursor = String()
    state = String(validate=OneOf(("draft", "scheduled", "sending", "paused", "sent", "cancelled", "failed")))


class ActionOut(Schema):
    campaign = Nested(CampaignOut)
    requested = Integer(metadata={"description": "recipients re-requested (resend to failed)"})


class RunOut(Schema):
    id = String()
    state = String()
    phase = String()
    due_at = String()
    fired_at = String(allow_none=True)
    finished_at = String(allow_none=True)
    checkpoint = Raw()
    targeted = Raw()
    ab = Raw(allow_none=True)


RunList = page_of("RunList", RunOut)
