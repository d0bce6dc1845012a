"""One request-parsing layer for every API, run before any view.

What a view declares with ``@input`` is enforced here the same way everywhere:

* a body larger than the view's limit is a 413 (``max_body_bytes`` by default,
  ``@body_limit`` for the few views that take more, e.g. imports);
* a view that takes a JSON body answers 415 to any other (or no) content type,
  400 to an empty body, to malformed JSON, to NaN/Infinity and to JSON nested
  deeper than ``MAX_DEPTH`` (the depth is counted by a linear scan before the
  parser runs, so no input reaches a recursion limit);
* every string of a JSON body and of the query (keys included) is checked with
  ``shared.normalize.unsafe_character``: a string field is one line unless its
  schema field says ``metadata={"multiline": True}``; free-form dicts (template
  variants, attributes) may hold newlines and tabs. Unpaired surrogates,
  other controls and bidi overrides are a 422 naming the field;
* a number no store can hold (beyond 64-bit integers) is a 422 naming the field;
* a query parameter the view does not declare (``email[$ne]``) is a 422 naming it.
"""

from __future__ import annotations

import json
import math
import re

from flask import Flask, current_app, request
from marshmallow import fields as ma

from shared.http.auth import PUBLIC_ENDPOINTS
from shared.http.errors import ApiError
from shared.normalize import unsafe_character

MAX_DEPTH = 32
INT_LIMIT = 2**63
# One token per match: a whole string (an unterminated one runs to the end, so a match
# never fails after it started: linear time) or a bracket.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?\Z)|[\[\]{}]', re.S)
_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")


def body_limit(setting_name: str):
    """Let this view take bodies up to the service setting ``setting_name`` (bytes)."""

    def decorate(view):
        view.vinculo_body_limit = setting_name
        return view

    return decorate


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON ``text`` nests arrays and objects deeper than ``limit``."""
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return True
        elif token in "]}":
            depth -= 1
    return False


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: bytes):
    """The JSON value of ``raw``; ApiError 400 when it is not JSON or nests too deep."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(400, "The body is not UTF-8 encoded JSON", error="bad_request") from None
    if too_deep(text):
        raise ApiError(
            400,
            f"The JSON body nests deeper than {MAX_DEPTH} levels",
            error="bad_request",
            max_depth=MAX_DEPTH,
        )
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, an integer of too many digits
        raise ApiError(400, f"The body is not valid JSON: {exc}", error="bad_request") from None


def _invalid(location: str, field: str, message: str) -> ApiError:
    return ApiError(
        422,
        f"Invalid {location}: {field}",
        error="validation_error",
        location=location,
        fields={field: [message]},
    )


def _schema_fields(schema) -> dict:
    if schema is None or not hasattr(schema, "fields"):
        return {}
    return {(field.data_key or name): field for name, field in schema.fields.items()}


def _multiline(field) -> bool:
    """Whether strings under this schema field may hold newlines and tabs."""
    if field is None:
        return True  # free-form content (a Dict's values, Raw): templates, attributes
    return bool(field.metadata.get("multiline")) or not isinstance(field, ma.String)


def check_values(data, schema=None, location: str = "json") -> None:
    """Walk ``data`` (without recursion) and raise 422 naming the first unsafe string or number."""
    stack = [("", data, schema, None)]
    while stack:
        path, value, value_schema, field = stack.pop()
        if isinstance(value, str):
            problem = unsafe_character(value, multiline=_multiline(field))
            if problem:
                raise _invalid(location, path or "_schema", problem)
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, (int, float)):
            if (isinstance(value, float) and not math.isfinite(value)) or abs(value) >= INT_LIMIT:
                raise _invalid(location, path or "_schema", "is out of range")
        elif isinstance(value, dict):
            known = _schema_fields(value_schema)
            for key, item in value.items():
                name = f"{path}.{key}" if path else str(key)
                problem = unsafe_character(str(key))
                if problem:
                    raise _invalid(location, name, f"the name {problem}")
                child = known.get(key)
                nested = getattr(child, "schema", None) if isinstance(child, ma.Nested) else None
                if isinstance(child, ma.List):
                    inner = child.inner
                    nested = getattr(inner, "schema", None) if isinstance(inner, ma.Nested) else None
                    child = inner
                stack.append((name, item, nested, child if value_schema is not None else None))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                stack.append((f"{path}.{index}" if path else str(index), item, value_schema, field))


def _declared(view):
    spec = getattr(view, "_spec", None) or {}
    queries = [schema for schema, location in spec.get("args", []) if location == "query"]
    return spec.get("body"), spec.get("content_type"), queries


def _check_query(queries) -> None:
    known: dict = {}
    for schema in queries:
        known.update(_schema_fields(schema))
    unknown = sorted(name for name in request.args if name not in known)
    if unknown:
        raise ApiError(
            422,
            f"Invalid query: unknown parameter {', '.join(unknown)}",
            error="validation_error",
            location="query",
            fields={name: ["Unknown parameter."] for name in unknown},
        )
    for name, values in request.args.lists():
        for value in values:
            problem = unsafe_character(value)
            if problem:
                raise _invalid("query", name, problem)
            if _INTEGER.match(value) and abs(int(value)) >= INT_LIMIT:
                raise _invalid("query", name, "is out of range")


def _check_json_body(schema) -> None:
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(
            415,
            "The body must be JSON (Content-Type: application/json)",
            error="unsupported_media_type",
            content_type=request.content_type or "",
        )
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise ApiError(400, "The body is empty; this request needs a JSON body", error="bad_request")
    check_values(parse_json(raw), schema)


def init_app(app: Flask, max_body_bytes: int) -> None:
    """Install the checks; ``max_body_bytes`` is the default body limit of every view."""
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes

    @app.before_request
    def check_input():
        view = app.view_functions.get(request.endpoint or "")
        if view is None or request.endpoint in PUBLIC_ENDPOINTS:
            return None
        setting_name = getattr(view, "vinculo_body_limit", None)
        if setting_name:
            request.max_content_length = getattr(current_app.config["VINCULO_SETTINGS"], setting_name)
        limit = request.max_content_length
        if limit is not None and request.content_length is not None and request.content_length > limit:
            raise ApiError(
                413,
                f"The body is larger than this endpoint takes ({limit} bytes)",
                error="payload_too_large",
                max_bytes=limit,
            )
        for name, value in (request.view_args or {}).items():
            if isinstance(value, int) and abs(value) >= INT_LIMIT:
                raise ApiError(404, f"{name} {value} does not exist", what=name, id=str(value))
        if getattr(view, "vinculo_public", False):
            return None  # public pages (forms, links) read their own parameters
        body, content_type, queries = _declared(view)
        _check_query(queries)
        if (
            body is not None
            and content_type == "application/json"
            and request.method in ("POST", "PUT", "PATCH")
        ):
            _check_json_body(body)
        return None


def answered(view, method: str, path: str) -> list[tuple[int, str]]:
    """The error statuses the shared layers may answer for ``view`` (for its OpenAPI operation)."""
    if view is None:
        return []
    out = []
    public = getattr(view, "vinculo_public", False)
    if not public:
        out.append((401, "no valid API key"))
        out.append((429, "too many failed API keys from this address (shared/http/auth.py)"))
        if getattr(view, "vinculo_roles", None):
            out.append((403, "the caller's role may not do this"))
    if method in ("post", "put", "patch"):
        out.append((413, "the body is larger than this endpoint takes"))
    if public:  # customer pages: a bad or expired signed link, a form's check, the public rate limit
        if "{token}" in path:
            out.append((400, "the signed link is not valid or has expired"))
        if method == "post":
            out.append((403, "the form's check failed"))
        out.append((429, "too many requests from this client"))
        return out
    body, content_type, queries = _declared(view)
    if queries:
        out.append((422, "invalid or unknown query parameter"))
    if body is not None and content_type == "application/json" and method in ("post", "put", "patch"):
        out += [
            (400, "empty body, malformed JSON or JSON nested too deep"),
            (415, "the body is not JSON"),
            (422, "invalid field"),
        ]
    return out
