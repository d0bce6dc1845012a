"""What every delivery transport raises: the worker records a permanent
failure with its reason and retries a transient one with backoff.

``code`` is the short reason a marketer sees counted in a campaign's results
(``provider_rejected``, ``smtputf8_unsupported``, ``invalid_address``, ...);
the message is the detail kept on the delivery."""


class DeliveryError(Exception):
    default_code = "provider_error"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code or self.default_code


class TransientFailure(DeliveryError):
    """Try again later (connection refused, 4xx from SMTP, 5xx/429 from the SMS API)."""

    default_code = "provider_unavailable"


class PermanentFailure(DeliveryError):
    """Never succeeds for this recipient (5xx from SMTP, 4xx from the SMS API)."""

    default_code = "provider_rejected"
