"""The words of the segment rule language (services/segments/rules.py compiles it):
its fields, operators and limits, the compile context that gathers errors and
dependencies, and the checked values a condition holds."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from services.segments.profiles import SCALARS
from shared import normalize
from shared.models.customer import STAGES
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

# Every field a caller may set is a text field a rule may test.
TEXT_FIELDS = SCALARS
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
class Context:
    # may the rule read personal fields (shared.personal) and count in a near circle under 1 km?
    # Not for analysts.
    personal: bool = True
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


def relative_seconds(value, path: str, ctx: Context):
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


def date_value(value, path: str, ctx: Context):
    """An ISO 8601 date/time (UTC when it has no offset) or {"ago": {"days": N}}."""
    if isinstance(value, dict) and set(value) == {"ago"}:
        seconds = relative_seconds(value["ago"], f"{path}.ago", ctx)
        return None if seconds is None else {"__now__": -seconds}
    if isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value)
        except ValueError:
            return ctx.fail(path, 'must be an ISO 8601 date like 2026-01-31 or {"ago": {"days": 30}}')
        return to_utc_naive(parsed)
    return ctx.fail(path, 'must be an ISO 8601 date like 2026-01-31 or {"ago": {"days": 30}}')


def number(value, path: str, ctx: Context):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ctx.fail(path, "must be a number")
    return value


def scalar_value(field_name: str, value, path: str, ctx: Context):
    """One comparison value, checked and normalised for its field."""
    if field_name in DATE_FIELDS:
        return date_value(value, path, ctx)
    if field_name in NUMBER_FIELDS:
        return number(value, path, ctx)
    if field_name in BOOL_FIELDS:
        if not isinstance(value, bool):
            return ctx.fail(path, "must be true or false")
        return value
    if field_name.startswith("attributes."):
        if isinstance(value, dict) and set(value) == {"ago"}:
            return date_value(value, path, ctx)
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


def stored_field(field_name: str) -> str:
    return FOLDED.get(field_name, field_name)


def root_field(field_name: str) -> str:
    return field_name.split(".")[0]
