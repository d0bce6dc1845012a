"""The segment rule language: validate a JSON rule tree and compile it to ONE
filter on the customers collection.

Nodes (README, "The rule language", has examples)::

    {"all": [node, ...]}   {"any": [node, ...]}   {"not": node}
    {"field": "country", "op": "eq", "value": "ES"}
    {"near": {"lat": 40.41, "lng": -3.70, "km": 25}}
    {"campaign": {"event": "opened", "campaign_id": "...", "within_days": 30}}
    {"mention": {"sentiment": "negative", "days": 30}}
    {"purchases": {"days": 90, "count": {"gte": 2}, "total": {"gte": 100}}}
    {"consent": {"channel": "email", "topic": "newsletter"}}

Relative times compile to ``{"__now__": seconds}`` placeholders that
``shared.audience.resolve`` turns into datetimes at query time. Behaviour
conditions read ``Customer.facts``, which the segments worker keeps from
events, so the filter never needs a join. ``compile_rule`` returns the
filter and the set of profile fields the rule depends on: a change to a
customer re-evaluates only the segments whose dependencies it touched.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from shared import normalize
from shared.models.consent import CHANNELS, TOPICS
from shared.models.customer import STAGES
from shared.personal import is_personal
from shared.store import to_utc_naive

EARTH_RADIUS_KM = 6378.1
MAX_DEPTH = 12
MAX_NODES = 200
# Cost limits (SECURITY.md, "Budgets and limits"): one analyst's rule must never stall the store
# for everyone. A geo test ($centerSphere on every candidate) or an $expr over recent purchases
# costs the store far more than an equality; 50 ``near`` nodes under the node limit ran 53 s over
# 200k customers. Each node kind has a cost; a rule's sum must stay within MAX_COST.
MAX_NEAR = 5
MAX_COST = 250
COSTS = {
    "field": 1,
    "pattern": 4,
    "near": 25,
    "campaign": 1,
    "mention": 5,
    "purchases": 1,
    "purchases_days": 15,
    "consent": 1,
    "all": 0,
    "any": 0,
    "not": 0,
}
# How many recent purchases and negative mentions the worker keeps on the profile.
PURCHASES_KEPT = 200
MENTIONS_KEPT = 100

TEXT_FIELDS = (
    "external_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "locale",
    "time_zone",
    "country",
    "city",
    "stage",
)
LIST_FIELDS = ("tags",)
DATE_FIELDS = ("created_at", "updated_at", "purchases.last_at")
NUMBER_FIELDS = ("purchases.count", "purchases.total")
BOOL_FIELDS = ("erased",)
# Text fields matched on their folded key (accents and case ignored: "Malaga" finds "Málaga").
FOLDED = {"city": "city_key", "last_name": "last_name_key"}

COMPARISONS = (
    "eq",
    "ne",
    "in",
    "nin",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "exists",
    "contains",
    "starts_with",
)
LIST_OPS = ("all",)  # a list holding every one of the values (tags: "has all of")
RELATIVE_OPS = ("within_last", "more_than_ago")
OPS = COMPARISONS + LIST_OPS + RELATIVE_OPS
NODE_KINDS = ("all", "any", "not", "field", "near", "campaign", "mention", "purchases", "consent")
CAMPAIGN_EVENTS = ("received", "opened", "clicked")
MONGO_OPS = {"eq": "$eq", "ne": "$ne", "gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}
UNITS = {"minutes": 60, "hours": 3600, "days": 86400, "weeks": 7 * 86400}


class RuleError(ValueError):
    """The rule is invalid; ``fields`` maps node paths to messages."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in fields.items()))
        self.fields = fields


@dataclass
class Compiled:
    filter: dict
    depends_on: set[str] = field(default_factory=set)
    relative: bool = False  # holds relative times: membership drifts as time passes


@dataclass
class _Ctx:
    personal: bool = True  # may the rule read personal fields (shared.personal)? Not for analysts.
    errors: dict[str, list[str]] = field(default_factory=dict)
    depends_on: set[str] = field(default_factory=set)
    relative: bool = False
    nodes: int = 0
    cost: int = 0
    near: int = 0
    cost_limits: bool = True

    def fail(self, path: str, message: str):
        self.errors.setdefault(path, []).append(message)
        return None


def compile_rule(rule, path: str = "rule", cost_limits: bool = True, *, personal: bool = True) -> Compiled:
    """Validate and compile; raises RuleError naming every offending node.

    ``personal=False`` (an analyst's preview) refuses conditions on personal
    fields: a count is an oracle, and one character at a time it would give
    back what masking hides. ``cost_limits=False`` only for reading the
    dependencies of a rule stored before the limits (it keeps working, within
    maxTimeMS)."""
    ctx = _Ctx(personal=personal, cost_limits=cost_limits)
    compiled = _node(rule, path, ctx, 0)
    if ctx.cost_limits and ctx.cost > MAX_COST and not ctx.errors:
        ctx.fail(
            path,
            f"the rule is too costly to evaluate: it costs {ctx.cost}, at most {MAX_COST} "
            f"(each near {COSTS['near']}, purchases over days {COSTS['purchases_days']}, mention "
            f"{COSTS['mention']}, contains/starts_with {COSTS['pattern']}, other conditions 1)",
        )
    if ctx.errors:
        raise RuleError(ctx.errors)
    return Compiled(compiled, ctx.depends_on, ctx.relative)


def _node(node, path: str, ctx: _Ctx, depth: int):
    ctx.nodes += 1
    if ctx.nodes > MAX_NODES:
        return ctx.fail(path, f"a rule may have at most {MAX_NODES} nodes")
    if depth > MAX_DEPTH:
        return ctx.fail(path, f"a rule may nest at most {MAX_DEPTH} levels")
    if not isinstance(node, dict):
        return ctx.fail(path, "must be an object")
    kinds = [k for k in node if k in NODE_KINDS]
    if "field" in node:
        return _comparison(node, path, ctx)
    if len(kinds) != 1 or len(node) != 1:
        return ctx.fail(path, f"must have exactly one of {', '.join(NODE_KINDS)}")
    kind = kinds[0]
    body = node[kind]
    sub = f"{path}.{kind}"
    ctx.cost += COSTS[
        "purchases_days" if kind == "purchases" and isinstance(body, dict) and "days" in body else kind
    ]
    if kind == "near":
        ctx.near += 1
        if ctx.cost_limits and ctx.near > MAX_NEAR:
            return ctx.fail(sub, f"a rule may have at most {MAX_NEAR} near conditions")
    if kind in ("all", "any"):
        if not isinstance(body, list) or not body:
            return ctx.fail(sub, "must be a non-empty list of conditions")
        parts = [_node(child, f"{sub}.{i}", ctx, depth + 1) for i, child in enumerate(body)]
        return {"$and" if kind == "all" else "$or": parts}
    if kind == "not":
        inner = _node(body, sub, ctx, depth + 1)
        return {"$nor": [inner]}
    return BEHAVIOUR[kind](body, sub, ctx)


# --- values -----------------------------------------------------------------


def _relative_seconds(value, path: str, ctx: _Ctx):
    """{"days": 30} -> 30 days in seconds (positive)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = {"days": value}
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in UNITS:
        return ctx.fail(path, f'must be like {{"days": 30}} (units: {", ".join(UNITS)})')
    unit, amount = next(iter(value.items()))
    if (
        isinstance(amount, bool)
        or not isinstance(amount, (int, float))
        or not 0 < amount <= 36500 * 86400 / UNITS[unit]
    ):
        return ctx.fail(path, "must be a positive number no longer than 100 years")
    ctx.relative = True
    return float(amount) * UNITS[unit]


def _date(value, path: str, ctx: _Ctx):
    """An ISO 8601 date/time (UTC when it has no offset) or {"ago": {"days": N}}."""
    if isinstance(value, dict) and set(value) == {"ago"}:
        seconds = _relative_seconds(value["ago"], f"{path}.ago", ctx)
        return None if seconds is None else {"__now__": -seconds}
    if isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value)
        except ValueError:
            return ctx.fail(path, 'must be an ISO 8601 date like 2026-01-31 or {"ago": {"days": 30}}')
        return to_utc_naive(parsed)
    return ctx.fail(path, 'must be an ISO 8601 date like 2026-01-31 or {"ago": {"days": 30}}')


def _number(value, path: str, ctx: _Ctx):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ctx.fail(path, "must be a number")
    return value


def _scalar(field_name: str, value, path: str, ctx: _Ctx):
    """One comparison value, checked and normalised for its field."""
    if field_name in DATE_FIELDS:
        return _date(value, path, ctx)
    if field_name in NUMBER_FIELDS:
        return _number(value, path, ctx)
    if field_name in BOOL_FIELDS:
        if not isinstance(value, bool):
            return ctx.fail(path, "must be true or false")
        return value
    if field_name.startswith("attributes."):
        if isinstance(value, dict) and set(value) == {"ago"}:
            return _date(value, path, ctx)
        if value is not None and not isinstance(value, (str, int, float, bool)):
            return ctx.fail(path, "must be a string, number, true/false or null")
        return normalize.text(value) if isinstance(value, str) else value
    if not isinstance(value, str) or not value.strip():
        return ctx.fail(path, "must be a non-empty string")
    try:
        if field_name == "email":
            return normalize.email(value) if "@" in value else value.strip().lower()
        if field_name == "phone":
            return normalize.phone(value) if value.strip().startswith("+") else normalize.text(value)
    except ValueError as exc:
        return ctx.fail(path, str(exc))
    if field_name == "country":
        value = value.strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", value):
            return ctx.fail(path, "must be an ISO 3166 two-letter country code")
        return value
    if field_name == "stage" and value not in STAGES:
        return ctx.fail(path, f"must be one of {', '.join(STAGES)}")
    if field_name in FOLDED:
        return normalize.fold(normalize.text(value))
    return normalize.text(value)


ACCENTED = {
    "a": "aáàâäãå",
    "e": "eéèêë",
    "i": "iíìîï",
    "o": "oóòôöõ",
    "u": "uúùûü",
    "n": "nñ",
    "c": "cç",
    "y": "yýÿ",
}


def accent_tolerant(folded: str) -> str:
    """A regex matching ``folded`` (accents removed, lower case) in text that has them: "lucia" finds "Lucía"."""
    return "".join(f"[{ACCENTED[ch]}]" if ch in ACCENTED else re.escape(ch) for ch in folded)


def _stored(field_name: str) -> str:
    return FOLDED.get(field_name, field_name)


def _root(field_name: str) -> str:
    return field_name.split(".")[0]


# --- comparisons ------------------------------------------------------------


def _comparison(node: dict, path: str, ctx: _Ctx):
    extra = set(node) - {"field", "op", "value"}
    if extra:
        return ctx.fail(path, f"unexpected keys {', '.join(sorted(extra))}")
    name = node.get("field")
    known = TEXT_FIELDS + LIST_FIELDS + DATE_FIELDS + NUMBER_FIELDS + BOOL_FIELDS
    if not isinstance(name, str) or not (
        name in known or re.fullmatch(r"attributes\.[A-Za-z0-9_\-]{1,64}", name)
    ):
        return ctx.fail(f"{path}.field", f"must be a profile field ({', '.join(known)}) or attributes.<name>")
    if not ctx.personal and is_personal(name):
        return ctx.fail(f"{path}.field", f"{name} is personal data: your role may not filter or count on it")
    op = node.get("op")
    if op not in OPS:
        return ctx.fail(f"{path}.op", f"must be one of {', '.join(OPS)}")
    ctx.depends_on.add(_root(name))
    ctx.cost += COSTS["pattern"] if op in ("contains", "starts_with") else COSTS["field"]
    vpath = f"{path}.value"
    value = node.get("value")
    stored = _stored(name)

    if op == "exists":
        if value is None:
            value = True
        if not isinstance(value, bool):
            return ctx.fail(vpath, "must be true or false")
        return (
            {stored: {"$exists": value}} if value else {"$or": [{stored: {"$exists": False}}, {stored: None}]}
        )
    if op in RELATIVE_OPS:
        if name not in DATE_FIELDS and not name.startswith("attributes."):
            return ctx.fail(f"{path}.op", f"{op} applies to dates ({', '.join(DATE_FIELDS)})")
        seconds = _relative_seconds(value, vpath, ctx)
        if seconds is None:
            return None
        return {stored: {"$gte" if op == "within_last" else "$lt": {"__now__": -seconds}}}
    if op in ("contains", "starts_with"):
        if name in DATE_FIELDS + NUMBER_FIELDS + BOOL_FIELDS:
            return ctx.fail(f"{path}.op", f"{op} applies to text fields")
        if not isinstance(value, str) or not value.strip():
            return ctx.fail(vpath, "must be a non-empty string")
        if name in LIST_FIELDS:
            if op == "contains":
                return {stored: normalize.text(value)}
            return {stored: {"$regex": "^" + re.escape(normalize.text(value))}}
        if name == "first_name" and not ctx.personal:
            # name_key folds the first AND last name: "lucia g" would count last names
            pattern = accent_tolerant(normalize.fold(normalize.text(value)))
            return {"first_name": {"$regex": ("^" if op == "starts_with" else "") + pattern, "$options": "i"}}
        if name == "first_name":
            stored, text = "name_key", normalize.fold(normalize.text(value))
        elif name in FOLDED:
            text = normalize.fold(normalize.text(value))
        else:
            text = normalize.text(value)
        pattern = re.escape(text)
        if op == "starts_with":
            return {stored: {"$regex": "^" + pattern, "$options": "i"}}
        return {stored: {"$regex": pattern, "$options": "i"}}
    if op == "all":
        if name not in LIST_FIELDS:
            return ctx.fail(f"{path}.op", f"all applies to lists ({', '.join(LIST_FIELDS)})")
        if not isinstance(value, list) or not value or len(value) > 100:
            return ctx.fail(vpath, "must be a non-empty list (100 values at most)")
        values = [_scalar(name, v, f"{vpath}.{i}", ctx) for i, v in enumerate(value)]
        return {"$and": [{stored: v} for v in values]}
    if op in ("in", "nin"):
        if not isinstance(value, list) or not value or len(value) > 1000:
            return ctx.fail(vpath, "must be a non-empty list (1,000 values at most)")
        values = [_scalar(name, v, f"{vpath}.{i}", ctx) for i, v in enumerate(value)]
        return {stored: {"$" + op: values}}
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            return ctx.fail(vpath, "must be a list of two values [low, high]")
        low = _scalar(name, value[0], f"{vpath}.0", ctx)
        high = _scalar(name, value[1], f"{vpath}.1", ctx)
        if (
            low is not None
            and high is not None
            and type(low) is type(high)
            and not isinstance(low, dict)
            and low > high
        ):
            return ctx.fail(vpath, "low must not be greater than high")
        return {stored: {"$gte": low, "$lte": high}}
    if name in LIST_FIELDS and op in ("gt", "gte", "lt", "lte"):
        return ctx.fail(f"{path}.op", f"{op} does not apply to a list")
    scalar = _scalar(name, value, vpath, ctx)
    if op == "eq":
        return {stored: scalar}
    return {stored: {MONGO_OPS[op]: scalar}}


# --- location and behaviour ------------------------------------------------


def _near(body, path: str, ctx: _Ctx):
    if not isinstance(body, dict):
        return ctx.fail(path, "must be {lat, lng, km}")
    lat, lng, km = body.get("lat"), body.get("lng"), body.get("km")
    if _number(lat, f"{path}.lat", ctx) is not None and not -90 <= lat <= 90:
        ctx.fail(f"{path}.lat", "must be within ±90")
    if _number(lng, f"{path}.lng", ctx) is not None and not -180 <= lng <= 180:
        ctx.fail(f"{path}.lng", "must be within ±180")
    if _number(km, f"{path}.km", ctx) is not None and not 0 < km <= 20000:
        ctx.fail(f"{path}.km", "must be more than 0 and at most 20,000")
    ctx.depends_on.add("location")
    if f"{path}.lat" in ctx.errors or f"{path}.lng" in ctx.errors or f"{path}.km" in ctx.errors:
        return None
    return {"location": {"$geoWithin": {"$centerSphere": [[float(lng), float(lat)], km / EARTH_RADIUS_KM]}}}


CAMPAIGN_KEYS = ("event", "campaign_id", "within_days")


def _campaign(body, path: str, ctx: _Ctx):
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
        seconds = _relative_seconds(body["within_days"], f"{path}.within_days", ctx)
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


def _mention(body, path: str, ctx: _Ctx):
    if not isinstance(body, dict):
        return ctx.fail(path, "must be {sentiment: negative, days}")
    if body.get("sentiment", "negative") != "negative":
        return ctx.fail(f"{path}.sentiment", "only negative mentions are kept for rules")
    seconds = _relative_seconds(body.get("days"), f"{path}.days", ctx)
    ctx.depends_on.add("facts.negative_mentions")
    if seconds is None:
        return None
    return {"facts.negative_mentions": {"$elemMatch": {"at": {"$gte": {"__now__": -seconds}}}}}


def _threshold(spec, path: str, ctx: _Ctx):
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in MONGO_OPS:
        return ctx.fail(path, 'must be like {"gte": 2} (eq, ne, gt, gte, lt, lte)')
    op, value = next(iter(spec.items()))
    if _number(value, f"{path}.{op}", ctx) is None:
        return None
    return MONGO_OPS[op], value


def _purchases(body, path: str, ctx: _Ctx):
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
    seconds = _relative_seconds(body["days"], f"{path}.days", ctx)
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


def _consent(body, path: str, ctx: _Ctx):
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


def affected(depends_on, changed) -> bool:
    """Can a change to ``changed`` fields alter a rule that depends on ``depends_on``?"""
    changed = set(changed)
    if "*" in changed:
        return True
    roots = {c.split(".")[0] for c in changed if not c.startswith("facts.")}
    # Derived keys change with their source field.
    if changed & {"city_key"}:
        roots.add("city")
    if changed & {"last_name_key"}:
        roots.add("last_name")
    if changed & {"name_key"}:
        roots.add("first_name")
    return bool(set(depends_on) & (roots | changed))
