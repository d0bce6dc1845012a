"""The segment rule language as the console shows it: fields, operators and their
words for the builder script, errors placed at their node, a node in words.

The lists follow services/segments/rules.py (README, "The rule language"); the
segments API stays the judge of a rule: the console only offers choices.
"""

from __future__ import annotations

import json

from services.console.i18n import gettext as _
from shared.models import CHANNELS, STAGES, TOPICS

# The rule language's fields and operators (services/segments/rules.py; README "The rule language").
FIELDS = {
    "text": (
        "country",
        "city",
        "locale",
        "time_zone",
        "stage",
        "email",
        "phone",
        "first_name",
        "last_name",
        "external_id",
    ),
    "list": ("tags",),
    "date": ("created_at", "updated_at", "purchases.last_at"),
    "number": ("purchases.count", "purchases.total"),
    "bool": ("erased",),
}
OPS = {
    "text": ("eq", "ne", "in", "nin", "contains", "starts_with", "exists"),
    "list": ("in", "all", "nin", "contains", "starts_with", "exists"),
    "date": ("within_last", "more_than_ago", "gt", "gte", "lt", "lte", "between", "eq", "exists"),
    "number": ("eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "nin", "exists"),
    "bool": ("eq", "exists"),
    "attribute": (
        "eq",
        "ne",
        "in",
        "nin",
        "gt",
        "gte",
        "lt",
        "lte",
        "between",
        "contains",
        "starts_with",
        "exists",
        "within_last",
        "more_than_ago",
    ),
}
UNITS = ("days", "weeks", "hours", "minutes")
CAMPAIGN_EVENTS = ("received", "opened", "clicked")
KINDS = ("field", "near", "campaign", "mention", "purchases", "consent")
THRESHOLDS = ("gte", "gt", "eq", "lte", "lt", "ne")


# Operators read differently on a list of tags ("has any of" rather than "is one of").
LIST_OP_WORDS = {
    "in": "has any of",
    "all": "has all of",
    "nin": "has none of",
    "contains": "has the tag",
    "starts_with": "has a tag starting with",
    "exists": "has tags",
}


def builder_spec(campaigns: list[tuple[str, str]] | None = None) -> dict:
    """What the builder script needs: fields, operators, choices and their labels in the user's
    language; ``campaigns`` as (id, name) for the campaign condition's picker."""
    labels = {op: _(f"op_{op}") for ops in OPS.values() for op in ops}
    labels.update({k: _(k) for k in (*UNITS, *CAMPAIGN_EVENTS, *CHANNELS, *TOPICS, "negative")})
    labels.update({k: _(f"kind_{k}") for k in KINDS})
    texts = {
        key: _(text)
        for key, text in (
            ("all_of", "All of these"),
            ("any_of", "Any of these"),
            ("none_of", "Not this"),
            ("add_condition", "Add a condition"),
            ("add_group", "Add a group"),
            ("remove", "Remove"),
            ("negate", "Negate"),
            ("field", "Field"),
            ("operator", "Operator"),
            ("value", "Value"),
            ("date", "Date"),
            ("ago", "ago"),
            ("on_date", "on a date"),
            ("relative", "time ago"),
            ("attribute_name", "Attribute name"),
            ("kind", "Condition"),
            ("lat", "Latitude"),
            ("lng", "Longitude"),
            ("km", "km"),
            ("event", "Event"),
            ("campaign", "Campaign"),
            ("any_campaign", "any campaign"),
            ("within_days", "in the last N days (empty: ever)"),
            ("place", "Place"),
            ("place_hint", "Search a city…"),
            ("no_places", "No city of your customers starts like that."),
            ("within", "within"),
            ("coordinates", "Coordinates"),
            ("tag_hint", "type a tag and press Enter"),
            ("chip_hint", "type a value and press Enter"),
            ("days", "In the last (days)"),
            ("count", "Number of purchases"),
            ("total", "Total spent"),
            ("channel", "Channel"),
            ("topic", "Topic"),
            ("raw", "JSON of this node"),
            ("yes", "yes"),
            ("no", "no"),
            ("invalid_json", "Not valid JSON: {error}"),
            ("list_hint", "separated by commas"),
            ("counting", "Counting…"),
            ("people", "people"),
            ("attribute", "attributes.…"),
        )
    }
    return {
        "fields": FIELDS,
        "ops": OPS,
        "units": UNITS,
        "events": CAMPAIGN_EVENTS,
        "kinds": KINDS,
        "channels": CHANNELS,
        "topics": TOPICS,
        "stages": STAGES,
        "thresholds": THRESHOLDS,
        "labels": labels,
        "texts": texts,
        "field_labels": {f: _(f"field_{f}") for names in FIELDS.values() for f in names},
        "op_labels": {"list": {op: _(words) for op, words in LIST_OP_WORDS.items()}},
        "campaigns": [list(c) for c in campaigns or []],
    }


def node_errors(rule, errors: dict) -> dict[str, list[str]]:
    """Field errors of a rule put at their node: {"rule.all.1": ["value: must be ..."]}.

    The API names the offending node or one of its keys (``rule.all.1.value``);
    each error goes to the deepest node whose path starts it."""
    paths = []

    def walk(node, path):
        paths.append(path)
        if not isinstance(node, dict):
            return
        for key in ("all", "any"):
            if isinstance(node.get(key), list):
                for i, child in enumerate(node[key]):
                    walk(child, f"{path}.{key}.{i}")
        if "not" in node and len(node) == 1:
            walk(node["not"], f"{path}.not")

    walk(rule, "rule")
    placed: dict[str, list[str]] = {}
    for name, messages in errors.items():
        if not name.startswith("rule"):
            continue
        home = max((p for p in paths if name == p or name.startswith(p + ".")), key=len, default="rule")
        rest = name[len(home) + 1 :]
        placed.setdefault(home, []).extend(f"{rest}: {m}" if rest else m for m in messages)
    return placed


def describe(node) -> str:
    """One line in words for a leaf node (the outline on pages without the builder)."""
    if not isinstance(node, dict):
        return json.dumps(node, ensure_ascii=False)
    if "field" in node:
        value = node.get("value")
        shown = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
        words = (_(f"field_{node['field']}"), _(f"op_{node.get('op')}"), shown if "value" in node else "")
        return " ".join(words).strip()
    return json.dumps(node, ensure_ascii=False)
