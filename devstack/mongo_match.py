"""MongoDB query semantics in Python, for the filters neosqlite gets wrong.

neosqlite translates filters to SQL (or to its own Python matcher) and gets
several shapes wrong, silently: null and missing fields, ``$ne``/``$nor``/``$not``
(SQL three-valued logic drops documents without the field, and the update path
differs from the find path), operators over arrays (``$ne`` on an array,
regexes on arrays of strings, ``$size``, ``$all``), equality on whole
embedded documents or arrays, ObjectId ranges. ``mongo_standin`` sends every
filter that is not in the small set neosqlite is known to get right
(:func:`is_fast_safe`) through :func:`matches` instead: it scans the
collection under the database lock and narrows the command's filter to the
``_id`` values that really match, so the command keeps its atomicity.

Semantics follow MongoDB 6: a path through arrays reaches every element;
comparisons only hold within one type bracket (numbers, strings, dates,
ObjectIds, booleans); ``{f: null}`` matches null and missing; negations
(``$ne``, ``$nin``, ``$not``, ``$nor``) match documents without the field.
"""

from __future__ import annotations

import datetime
import re

from bson import ObjectId as BsonObjectId
from bson.regex import Regex

# Operators :func:`matches` implements; a filter using anything else is left to neosqlite.
SUPPORTED = frozenset(
    {
        "$eq",
        "$ne",
        "$gt",
        "$gte",
        "$lt",
        "$lte",
        "$in",
        "$nin",
        "$exists",
        "$all",
        "$size",
        "$elemMatch",
        "$not",
        "$regex",
        "$options",
        "$type",
        "$mod",
        "$and",
        "$or",
        "$nor",
    }
)
_MISSING = object()
_TYPE_NAMES = {
    "double": "number",
    "int": "number",
    "long": "number",
    "decimal": "number",
    "number": "number",
    "string": "string",
    "object": "object",
    "array": "array",
    "objectId": "objectId",
    "bool": "bool",
    "date": "date",
    "null": "null",
    "regex": "regex",
}
_TYPE_CODES = {
    1: "number",
    2: "string",
    3: "object",
    4: "array",
    7: "objectId",
    8: "bool",
    9: "date",
    10: "null",
    16: "number",
    18: "number",
    19: "number",
    11: "regex",
}


def _is_oid(value) -> bool:
    if isinstance(value, BsonObjectId):
        return True
    return type(value).__name__ == "ObjectId" and hasattr(value, "binary")


def _canon(value):
    """A comparable form: ObjectIds of either library compare by bytes, aware datetimes
    as naive UTC. Also decodes neosqlite's stored JSON forms of ObjectIds and dates, so
    rows can be matched straight from ``json.loads`` (much faster than its loader)."""
    if _is_oid(value):
        return ("$oid", bytes(value.binary))
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return value.astimezone(datetime.UTC).replace(tzinfo=None)
    if isinstance(value, dict):
        if value.get("__neosqlite_objectid__") is True and isinstance(value.get("id"), str):
            return ("$oid", bytes.fromhex(value["id"]))
        if len(value) == 1 and isinstance(value.get("$date"), str):
            try:
                return _canon(datetime.datetime.fromisoformat(value["$date"].replace("Z", "+00:00")))
            except ValueError:
                pass
        return {key: _canon(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canon(item) for item in value]
    return value


def _bracket(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime.datetime):
        return "date"
    if isinstance(value, tuple) and value[:1] == ("$oid",):
        return "objectId"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "other"


def _equal(left, right) -> bool:
    if _bracket(left) != _bracket(right):
        return False
    if isinstance(left, dict):
        return list(left.items()) == list(right.items())  # field order matters in BSON
    return left == right


def _values(doc, parts: list[str]) -> list:
    """Every value a dotted path reaches (MongoDB traverses arrays); empty when missing."""
    if not parts:
        return [doc]
    head, rest = parts[0], parts[1:]
    if isinstance(doc, dict):
        if head not in doc:
            return []
        return _values(doc[head], rest)
    if isinstance(doc, list):
        found = []
        if head.isdigit() and int(head) < len(doc):
            found.extend(_values(doc[int(head)], rest))
        for item in doc:
            if isinstance(item, dict):
                found.extend(_values(item, parts))
        return found
    return []


def _candidates(values: list) -> list:
    """The values themselves plus the elements of array values (what operators test)."""
    out = []
    for value in values:
        out.append(value)
        if isinstance(value, list):
            out.extend(value)
    return out


def _regex_of(spec):
    if isinstance(spec, Regex):
        return spec.try_compile()
    if isinstance(spec, re.Pattern):
        return spec
    return None


def _compile(pattern, options: str = "") -> re.Pattern:
    flags = 0
    for letter, flag in (("i", re.IGNORECASE), ("m", re.MULTILINE), ("s", re.DOTALL), ("x", re.VERBOSE)):
        if letter in (options or ""):
            flags |= flag
    if isinstance(pattern, (Regex, re.Pattern)):
        extra = _regex_of(pattern)
        return re.compile(extra.pattern, extra.flags | flags)
    return re.compile(pattern, flags)


def _value_matches(target, values: list) -> bool:
    """Equality (or regex) of ``target`` with a field's values, as ``{field: target}``."""
    regex = _regex_of(target)
    if regex is None and isinstance(target, dict) and "$regex" in target:  # rewritten BSON regex in $in
        regex = _compile(target["$regex"], target.get("$options", ""))
    if regex is not None:
        return any(isinstance(v, str) and regex.search(v) for v in _candidates(values))
    target = _canon(target)
    if target is None:
        return not values or any(v is None for v in _candidates(values))
    return any(_equal(v, target) for v in _candidates(values))


def _compare(op: str, values: list, arg) -> bool:
    arg = _canon(arg)
    kind = _bracket(arg)
    for value in _candidates(values):
        if _bracket(value) != kind or kind in ("array", "object"):
            if not (op in ("$gte", "$lte") and value is None and arg is None):
                continue
            return True
        if (
            (op == "$gt" and value > arg)
            or (op == "$gte" and value >= arg)
            or (op == "$lt" and value < arg)
            or (op == "$lte" and value <= arg)
        ):
            return True
    return False


def _type_matches(values: list, spec) -> bool:
    wanted = {
        (_TYPE_CODES.get(s) if isinstance(s, int) else _TYPE_NAMES.get(s, s))
        for s in (spec if isinstance(spec, list) else [spec])
    }
    for value in values:
        if _bracket(value) in wanted:
            return True
        if isinstance(value, list) and any(_bracket(item) in wanted for item in value):
            return True
    return False


_IN_KEYS: dict = {}  # id of a $in list -> (the list, its keys): one filter tests many documents


def _key(value):
    """A hashable key under which two values are equal in MongoDB's sense (type bracket
    and value: 1 == 1.0, True != 1), or None for values compared otherwise."""
    kind = _bracket(value)
    if kind in ("number", "string", "bool", "objectId", "date"):
        return (kind, value)
    return None


def _in_keys(items: list):
    """The keys of a ``$in`` list made only of plain scalars (no null, regex, array or
    document), else None."""
    cached = _IN_KEYS.get(id(items))
    if cached is not None and cached[0] is items:
        return cached[1]
    keys = set()
    for item in items:
        key = _key(_canon(item)) if not isinstance(item, (list, dict)) and _regex_of(item) is None else None
        if key is None:
            keys = None
            break
        keys.add(key)
    if len(_IN_KEYS) > 64:
        _IN_KEYS.clear()
    _IN_KEYS[id(items)] = (items, keys)
    return keys


def _operators_match(ops: dict, values: list) -> bool:
    for op, arg in ops.items():
        if op == "$options":
            continue
        if op == "$eq":
            ok = _value_matches(arg, values)
        elif op == "$ne":
            ok = not _value_matches(arg, values)
        elif op in ("$gt", "$gte", "$lt", "$lte"):
            ok = _compare(op, values, arg)
        elif op == "$in":
            keys = _in_keys(arg)
            if keys is not None:  # plain scalars: one set lookup per value, not one test per item
                ok = any(_key(v) in keys for v in _candidates(values))
            else:
                ok = any(_value_matches(item, values) for item in arg)
        elif op == "$nin":
            ok = not any(_value_matches(item, values) for item in arg)
        elif op == "$exists":
            ok = bool(values) == bool(arg)
        elif op == "$all":
            ok = bool(arg) and all(
                _operators_match({"$elemMatch": item["$elemMatch"]}, values)
                if isinstance(item, dict) and "$elemMatch" in item
                else _value_matches(item, values)
                for item in arg
            )
        elif op == "$size":
            ok = any(isinstance(v, list) and len(v) == arg for v in values)
        elif op == "$elemMatch":
            ok = any(_element_matches(item, arg) for v in values if isinstance(v, list) for item in v)
        elif op == "$not":
            regex = _regex_of(arg)
            ok = not (_value_matches(regex, values) if regex is not None else _operators_match(arg, values))
        elif op == "$regex":
            pattern = _compile(arg, ops.get("$options", ""))
            ok = any(isinstance(v, str) and pattern.search(v) for v in _candidates(values))
        elif op == "$type":
            ok = _type_matches(values, arg)
        elif op == "$mod":
            divisor, remainder = arg
            ok = any(
                _bracket(v) == "number" and int(v) % int(divisor) == int(remainder)
                for v in _candidates(values)
            )
        else:
            raise ValueError(f"unsupported operator {op}")
        if not ok:
            return False
    return True


def _element_matches(element, spec: dict) -> bool:
    if all(key.startswith("$") for key in spec) and not any(k in ("$and", "$or", "$nor") for k in spec):
        return _operators_match(spec, [element])
    return isinstance(element, dict) and matches(element, spec)


def _is_operator_dict(value) -> bool:
    return isinstance(value, dict) and bool(value) and all(key.startswith("$") for key in value)


def matches(doc: dict, query: dict) -> bool:
    """Whether ``doc`` matches the MongoDB filter ``query``."""
    for key, cond in query.items():
        if key == "$and":
            ok = all(matches(doc, part) for part in cond)
        elif key == "$or":
            ok = any(matches(doc, part) for part in cond)
        elif key == "$nor":
            ok = not any(matches(doc, part) for part in cond)
        elif key.startswith("$"):
            raise ValueError(f"unsupported operator {key}")
        else:
            values = _canon(_values(doc, key.split(".")))
            if _is_operator_dict(cond):
                ok = _operators_match(cond, values)
            else:
                ok = _value_matches(cond, values)
        if not ok:
            return False
    return True


def supported(query) -> bool:
    """Whether every operator in ``query`` is one :func:`matches` implements."""
    if isinstance(query, dict):
        return all(
            (not key.startswith("$") or key in SUPPORTED) and supported(item) for key, item in query.items()
        )
    if isinstance(query, list):
        return all(supported(item) for item in query)
    return True


_SAFE_SCALARS = (str, int, float, datetime.datetime)
_SAFE_RANGE = ("$gt", "$gte", "$lt", "$lte")


def _safe_scalar(value, key: str) -> bool:
    if isinstance(value, bool):
        return True
    if _is_oid(value):
        return key == "_id"
    return isinstance(value, _SAFE_SCALARS)


_PLAIN_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _safe_condition(key: str, cond) -> bool:
    if not _PLAIN_PATH.fullmatch(key):  # array indexes, non-ASCII or quoted keys: SQL paths break
        return False
    if _is_operator_dict(cond):
        for op, arg in cond.items():
            if op == "$eq" and _safe_scalar(arg, key):
                continue
            if (
                op == "$in"
                and isinstance(arg, list)
                and all(
                    (_safe_scalar(item, key) or _is_oid(item)) and not isinstance(item, datetime.datetime)
                    for item in arg
                )
            ):
                continue
            if op in _SAFE_RANGE and _safe_scalar(arg, key) and not _is_oid(arg):
                continue
            return False
        return True
    return _safe_scalar(cond, key)


def is_fast_safe(query) -> bool:
    """Whether neosqlite is known to evaluate ``query`` right (so it may use its SQL path):
    equality, ``$in`` and ranges on scalars (not null, not ObjectIds except on ``_id``
    and in ``$in``), combined with ``$and``/``$or``. Ranges on fields holding arrays
    are the one known gap (see the module notes in ``mongo_standin``)."""
    if not isinstance(query, dict):
        return False
    for key, cond in query.items():
        if key in ("$and", "$or"):
            if not (isinstance(cond, list) and cond and all(is_fast_safe(part) for part in cond)):
                return False
        elif key.startswith("$") or not _safe_condition(key, cond):
            return False
    return True
