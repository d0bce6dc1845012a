"""Domain errors: what a rule refuses, said without HTTP.

Domain modules (and ``store.py``) raise these; ``shared.http.errors.register``
maps each kind to its status once, for every service, in the one JSON error
shape. A worker or a command catches them like any exception, with no Flask in
sight.

- ``Invalid(field, message)``: a value breaks a rule (422, the field named);
- ``NotFound(what, ident)``: 404;
- ``Conflict(message, field=...)``: the state refuses it (409);
- ``Forbidden(message)``: allowed to the role, not to this case (403);
- ``Gone(message)``: it existed and is no more (410);
- ``Unavailable(message)``: an owner the answer depends on cannot say (503).

Extra keyword arguments end up in the error's ``details``.
"""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None, **details):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code
        self.details = details

    def body_details(self) -> dict:
        details = dict(self.details)
        if self.field:
            details.setdefault("fields", {self.field: [self.message]})
        return details


class Invalid(DomainError):
    """``Invalid("email", "is not an address")`` answers 422 like a schema error on that field."""

    status = 422
    code = "validation_error"

    def __init__(self, field: str, message: str, *, location: str = "json", **details):
        super().__init__(message, field=field, location=location, **details)

    def __str__(self) -> str:
        return f"Invalid {self.field}: {self.message}"


class NotFound(DomainError):
    status = 404
    code = "not_found"

    def __init__(self, what: str, ident, **details):
        super().__init__(f"{what} {ident} does not exist", what=what, id=str(ident), **details)


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Gone(DomainError):
    status = 410
    code = "gone"


class Unavailable(DomainError):
    status = 503
    code = "unavailable"
