"""Signed, expiring, purpose-bound tokens for links customers follow.

``sign("unsubscribe", {...})`` gives a URL-safe token that only
``verify(token, "unsubscribe")`` accepts: the purpose is the itsdangerous
salt, so a token made for one purpose (open, click, unsubscribe,
preferences, ...) never verifies for another. Tokens carry their signing
time and expire after ``max_age`` seconds. The preference center reuses this
module with its own purposes.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

PURPOSES = frozenset({"unsubscribe", "open", "click", "preferences", "confirm"})


class TokenError(ValueError):
    """The token is malformed, forged, expired or made for another purpose."""

    def __init__(self, message: str, *, expired: bool = False):
        super().__init__(message)
        self.expired = expired


class Tokens:
    def __init__(self, secret: str, max_age: float):
        self.secret = secret
        self.max_age = max_age
        self._serializers: dict[str, URLSafeTimedSerializer] = {}

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown token purpose {purpose!r}")
        serializer = self._serializers.get(purpose)
        if serializer is None:
            serializer = self._serializers[purpose] = URLSafeTimedSerializer(
                self.secret, salt=f"vinculo.mailer.{purpose}"
            )
        return serializer

    def sign(self, purpose: str, data: Any) -> str:
        return self._serializer(purpose).dumps(data)

    def verify(self, token: str, purpose: str, max_age: float | None = None) -> Any:
        try:
            return self._serializer(purpose).loads(
                token, max_age=self.max_age if max_age is None else max_age
            )
        except SignatureExpired:
            raise TokenError("the link has expired", expired=True) from None
        except BadSignature:
            raise TokenError("the link is not valid") from None


def from_settings(settings) -> Tokens:
    return Tokens(settings.secret_key, settings.token_max_age_days * 86400)
