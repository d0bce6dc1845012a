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

import re

from services.segments.rule_behaviour import BEHAVIOUR
from services.segments.rule_language import (
    BOOL_FIELDS,
    COSTS,
    DATE_FIELDS,
    FOLDED,
    LIST_FIELDS,
    MAX_COST,
    MAX_DEPTH,
    MAX_NEAR,
    MAX_NODES,
    MENTIONS_KEPT,
    MONGO_OPS,
    NODE_KINDS,
    NUMBER_FIELDS,
    OPS,
    PURCHASES_KEPT,
    RELATIVE_OPS,
    TEXT_FIELDS,
    Compiled,
    Context,
    RuleError,
    accent_tolerant,
    relative_seconds,
    root_field,
    scalar_value,
    stored_field,
)
from shared import normalize
from shared.personal import is_personal

# Also the words other modules read here (the language's details: rule_language, rule_behaviour).
__all__ = [
    "MENTIONS_KEPT",
    "PURCHASES_KEPT",
    "Compiled",
    "RuleError",
    "accent_tolerant",
    "affected",
    "compile_rule",
]


def compile_rule(rule, path: str = "rule", cost_limits: bool = True, *, personal: bool = True) -> Compiled:
    """Validate and compile; raises RuleError naming every offending node.

    ``personal=False`` (an analyst's preview) refuses conditions on personal
    fields: a count is an oracle, and one character at a time it would give
    back what masking hides. ``cost_limits=False`` only for reading the
    dependencies of a rule stored before the limits (it keeps working, within
    maxTimeMS)."""
    ctx = Context(personal=personal, cost_limits=cost_limits)
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


def _node(node, path: str, ctx: Context, depth: int):
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


# --- comparisons ------------------------------------------------------------


def _comparison(node: dict, path: str, ctx: Context):
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
    ctx.depends_on.add(root_field(name))
    ctx.cost += COSTS["pattern"] if op in ("contains", "starts_with") else COSTS["field"]
    vpath = f"{path}.value"
    value = node.get("value")
    stored = stored_field(name)

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
        seconds = relative_seconds(value, vpath, ctx)
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
        values = [scalar_value(name, v, f"{vpath}.{i}", ctx) for i, v in enumerate(value)]
        return {"$and": [{stored: v} for v in values]}
    if op in ("in", "nin"):
        if not isinstance(value, list) or not value or len(value) > 1000:
            return ctx.fail(vpath, "must be a non-empty list (1,000 values at most)")
        values = [scalar_value(name, v, f"{vpath}.{i}", ctx) for i, v in enumerate(value)]
        return {stored: {"$" + op: values}}
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            return ctx.fail(vpath, "must be a list of two values [low, high]")
        low = scalar_value(name, value[0], f"{vpath}.0", ctx)
        high = scalar_value(name, value[1], f"{vpath}.1", ctx)
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
    scalar = scalar_value(name, value, vpath, ctx)
    if op == "eq":
        return {stored: scalar}
    return {stored: {MONGO_OPS[op]: scalar}}


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
