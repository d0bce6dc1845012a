"""One JSON error shape for every API.

``{"error": "<code>", "message": "<sentence>", "details": {...}}`` with the
right status. Validation errors put the offending fields under
``details.fields`` (``{"email": ["Not a valid email address."]}``) and say
where they were (``details.location``: json, query, path, headers, form).
A 500 is logged with its traceback and answers a generic body.

Domain modules raise ``shared.errors`` (Invalid, NotFound, Conflict, ...), which
know nothing of HTTP; ``register`` maps them here, once, for every service.
"""

from __future__ import annotations

import logging

from apiflask import HTTPError
from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from shared.errors import DomainError

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message", "details"],
    "properties": {
        "error": {"type": "string", "description": "machine-readable code, e.g. validation_error"},
        "message": {"type": "string", "description": "one sentence for people"},
        "details": {
            "type": "object",
            "description": "for validation errors: location and fields",
            "properties": {
                "location": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


class ApiError(HTTPError):
    """Raise from a view to answer the error shape: ApiError(409, "invalid state", current="sent")."""

    def __init__(self, status: int, message: str, *, error: str | None = None, **details):
        super().__init__(status, message, detail=details)
        self.error_code = error or CODES.get(status, "error")


def not_found(what: str, ident) -> ApiError:
    return ApiError(404, f"{what} {ident} does not exist", what=what, id=str(ident))


def field_error(field: str, message: str, status: int = 422, location: str = "json") -> ApiError:
    """A validation error found by our own code, in the same shape as schema errors."""
    return ApiError(
        status,
        f"Invalid {field}: {message}",
        error="validation_error",
        fields={field: [message]},
        location=location,
    )


def conflict(message: str, **details) -> ApiError:
    return ApiError(409, message, **details)


def _flatten(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages -> {"a.b.0.c": ["..."]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, (dict, list)) and value and not all(isinstance(v, str) for v in value):
                out.update(_flatten(value, name))
            else:
                out[name] = [value] if isinstance(value, str) else list(value)
    elif isinstance(messages, list):
        out[prefix or "_schema"] = [str(m) for m in messages]
    return out


def error_body(status: int, message: str, error: str | None = None, details=None) -> dict:
    return {"error": error or CODES.get(status, "error"), "message": message, "details": details or {}}


def register(app: Flask) -> None:
    """Make every error, from any layer, answer the one shape."""

    def processor(exc: HTTPError):
        status = exc.status_code
        details = dict(exc.detail or {}) if isinstance(exc.detail, dict) else {}
        code = getattr(exc, "error_code", None) or CODES.get(status, "error")
        message = exc.message or "Error"
        # apiflask puts schema errors as {location: {field: [msgs]}}.
        if status in (400, 422) and details and not isinstance(exc, ApiError):
            location, messages = next(iter(details.items()))
            fields = _flatten(messages)
            named = ", ".join(sorted(fields))
            details = {"location": location, "fields": fields}
            code = "validation_error"
            message = f"Invalid {location}: {named}" if named else "Invalid request"
        return jsonify(error_body(status, message, code, details)), status, exc.headers

    if hasattr(app, "error_processor"):
        app.error_processor(processor)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        return jsonify(error_body(status, exc.description or CODES.get(status, "error"))), status

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        return jsonify(error_body(exc.status, str(exc), exc.code, exc.body_details())), exc.status

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, DomainError):
            return domain_error(exc)
        if isinstance(exc, HTTPError):
            return processor(exc)
        if isinstance(exc, HTTPException):
            return http_error(exc)
        log.exception("unhandled error")
        return jsonify(error_body(500, "An internal error occurred; it has been logged.")), 500
