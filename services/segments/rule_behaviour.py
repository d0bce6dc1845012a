"""Location and behaviour conditions of the rule language: near, campaign, mention,
purchases and consent. Behaviour reads ``Customer.facts`` (kept by the segments
worker from other services' events), so the filter needs no join."""

from __future__ import annotations

from services.segments.rule_language import (
    CAMPAIGN_EVENTS,
    EARTH_RADIUS_KM,
    MONGO_OPS,
    Context,
    number,
    relative_seconds,
)
from shared.models.consent import CHANNELS, TOPICS

ANALYST_MIN_KM = 1  # the smallest near radius an analyst may count in (profile_reads: the count floor)


def _near(body, path: str, ctx: Context):
    if not isinstance(body, dict):
        return ctx.fail(path, "must be {lat, lng, km}")
    lat, lng, km = body.get("lat"), body.get("lng"), body.get("km")
    if number(lat, f"{path}.lat", ctx) is not None and not -90 <= lat <= 90:
        ctx.fail(f"{path}.lat", "must be within ±90")
    if number(lng, f"{path}.lng", ctx) is not None and not -180 <= lng <= 180:
        ctx.fail(f"{path}.lng", "must be within ±180")
    if number(km, f"{path}.km", ctx) is not None and not 0 < km <= 20000:
        ctx.fail(f"{path}.km", "must be more than 0 and at most 20,000")
    elif not ctx.personal and f"{path}.km" not in ctx.errors and km < ANALYST_MIN_KM:
        # an analyst's count in a tiny circle would single out a home (a place is 0.01°, ~1 km)
        ctx.fail(f"{path}.km", f"your role may count near a place only within {ANALYST_MIN_KM:g} km or more")
    ctx.depends_on.add("location")
    if f"{path}.lat" in ctx.errors or f"{path}.lng" in ctx.errors or f"{path}.km" in ctx.errors:
        return None
    return {"location": {"$geoWithin": {"$centerSphere": [[float(lng), float(lat)], km / EARTH_RADIUS_KM]}}}


CAMPAIGN_KEYS = ("event", "campaign_id", "within_days")


def _campaign(body, path: str, ctx: Context):
    if not isinstance(body, dict):
        return ctx.fail(path, "must be {event, campaign_id, within_days}")
    extra = set(body) - set(CAMPAIGN_KEYS)
    if extra:  # "days" or a typo would silently mean "ever"
        return ctx.fail(
            path, f"unexpected keys {', '.join(sorted(extra))} (keys: {', '.join(CAMPAIGN_KEYS)})"
        )
    event = body.get("event")
    if event not in CAMPAIGN_EVENTS:
        return ctx.fail(f"{path}.event", f"must be one of {', '.join(CAMPAIGN_EVENTS)}")
    campaign_id = body.get("campaign_id")
    ctx.depends_on.add(f"facts.{event}")
    if campaign_id is not None and (
        not isinstance(campaign_id, str) or not campaign_id.strip() or len(campaign_id) > 64
    ):
        return ctx.fail(f"{path}.campaign_id", "must be a campaign id")
    if body.get("within_days") is not None:
        seconds = relative_seconds(body["within_days"], f"{path}.within_days", ctx)
        if seconds is None:
            return None
        match = {"at": {"$gte": {"__now__": -seconds}}}
        if campaign_id is not None:
            match = {"campaign_id": campaign_id.strip(), **match}
        return {f"facts.{event}_at": {"$elemMatch": match}}
    if campaign_id is None:
        # Any campaign: a non-empty list. ("facts.x.0": {"$exists": true} is the
        # usual shape, but the stand-in answers it wrongly on some documents.)
        return {f"facts.{event}": {"$exists": True, "$ne": []}}
    return {f"facts.{event}": campaign_id.strip()}


def _mention(body, path: str, ctx: Context):
    if not isinstance(body, dict):
        return ctx.fail(path, "must be {sentiment: negative, days}")
    if body.get("sentiment", "negative") != "negative":
        return ctx.fail(f"{path}.sentiment", "only negative mentions are kept for rules")
    seconds = relative_seconds(body.get("days"), f"{path}.days", ctx)
    ctx.depends_on.add("facts.negative_mentions")
    if seconds is None:
        return None
    return {"facts.negative_mentions": {"$elemMatch": {"at": {"$gte": {"__now__": -seconds}}}}}


def _threshold(spec, path: str, ctx: Context):
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in MONGO_OPS:
        return ctx.fail(path, 'must be like {"gte": 2} (eq, ne, gt, gte, lt, lte)')
    op, value = next(iter(spec.items()))
    if number(value, f"{path}.{op}", ctx) is None:
        return None
    return MONGO_OPS[op], value


def _purchases(body, path: str, ctx: Context):
    if not isinstance(body, dict) or not ({"count", "total"} & set(body)):
        return ctx.fail(path, "must have count and/or total, and optionally days")
    extra = set(body) - {"count", "total", "days"}
    if extra:
        return ctx.fail(path, f"unexpected keys {', '.join(sorted(extra))}")
    checks = {key: _threshold(body[key], f"{path}.{key}", ctx) for key in ("count", "total") if key in body}
    ctx.depends_on.update({"purchases", "facts.purchases"})
    if "days" not in body:
        # All time: the summary on the profile (exact, indexed-friendly).
        if any(v is None for v in checks.values()):
            return None
        return {"$and": [{f"purchases.{key}": {op: value}} for key, (op, value) in checks.items()]}
    seconds = relative_seconds(body["days"], f"{path}.days", ctx)
    if seconds is None or any(v is None for v in checks.values()):
        return None
    recent = {
        "$filter": {
            "input": {"$ifNull": ["$facts.purchases", []]},
            "as": "p",
            "cond": {"$gte": ["$$p.at", {"__now__": -seconds}]},
        }
    }
    exprs = []
    for key, (op, value) in checks.items():
        measured = (
            {"$size": recent}
            if key == "count"
            else {"$sum": {"$map": {"input": recent, "as": "p", "in": "$$p.amount"}}}
        )
        exprs.append({op: [measured, value]})
    return {"$expr": exprs[0] if len(exprs) == 1 else {"$and": exprs}}


def _consent(body, path: str, ctx: Context):
    if not isinstance(body, dict):
        return ctx.fail(path, "must be {channel, topic}")
    channel, topic = body.get("channel"), body.get("topic")
    if channel not in CHANNELS:
        ctx.fail(f"{path}.channel", f"must be one of {', '.join(CHANNELS)}")
    if topic not in TOPICS:
        ctx.fail(f"{path}.topic", f"must be one of {', '.join(TOPICS)}")
    ctx.depends_on.add("consent")
    if channel not in CHANNELS or topic not in TOPICS:
        return None
    return {f"consent.{channel}.{topic}": "granted"}


BEHAVIOUR = {
    "near": _near,
    "campaign": _campaign,
    "mention": _mention,
    "purchases": _purchases,
    "consent": _consent,
}
