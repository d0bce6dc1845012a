"""The segments service's domain errors, on top of ``shared.errors``.

``shared.errors.Invalid`` names one field; a profile, a rule or an import's
mapping is judged whole, and the answer names every field at once (422, the
same body as a schema error). A refused profile write names its field in
``details.field`` (409). ``TooLarge``: an upload over the limit (413).
"""

from __future__ import annotations

from shared.errors import Conflict, DomainError, Invalid


class InvalidFields(Invalid):
    """``InvalidFields({"email": ["is not an address"]}, location="json")``: 422 naming every field."""

    def __init__(
        self,
        fields: dict[str, list[str]],
        *,
        location: str = "json",
        message: str | None = None,
        code: str | None = None,
    ):
        DomainError.__init__(
            self,
            message or f"Invalid {location}: {', '.join(sorted(fields))}",
            code=code,
            location=location,
            fields=fields,
        )
        self.fields = fields

    def __str__(self) -> str:
        return self.message


class WriteError(Conflict):
    """A profile write the state of the store refuses (a taken or suppressed contact, an
    erased customer, another customer's order): 409 with the field in ``details.field``."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.details = {"field": field}
        self.target, self.reason = field, message


class TooLarge(DomainError):
    """An upload over the size limit."""

    status = 413
    code = "payload_too_large"
