"""What every delivery transport raises: the worker records a permanent
failure with its reason and retries a transient one with backoff."""


class TransientFailure(Exception):
    """Try again later (connection refused, 4xx from SMTP, 5xx/429 from the SMS API)."""


class PermanentFailure(Exception):
    """Never succeeds for this recipient (5xx from SMTP, 4xx from the SMS API)."""
