"""SMS: GSM-7 / UCS-2 segment counting, and delivery through Twilio's own
client with a configurable base URL (a local Twilio-compatible server in
tests and the local run)."""

from __future__ import annotations

from dataclasses import dataclass

from services.mailer.transport import PermanentFailure, TransientFailure

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsInfo:
    encoding: str  # GSM-7 or UCS-2
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int


def segments(text: str) -> SmsInfo:
    """How the text travels: GSM-7 (160 per message, 153 per part) when every
    character is in the GSM alphabet (extension characters take two), else
    UCS-2 (70, or 67 per part) counted in UTF-16 code units."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units <= single:
        return SmsInfo(encoding, units, 1 if units else 0, single)
    return SmsInfo(encoding, units, -(-units // multi), multi)


TWILIO = "https://api.twilio.com"


def rebased_http_client(base_url: str, **kwargs):
    """Twilio's HTTP client, sending ``https://api.twilio.com`` requests to ``base_url``.

    twilio is imported here, not at module import: it is heavy, and the API
    only needs it for a test send.
    """
    from twilio.http.http_client import TwilioHttpClient

    class RebasedHttpClient(TwilioHttpClient):
        def request(self, method, url, *args, **kw):
            if url.startswith(TWILIO):
                url = base_url.rstrip("/") + url[len(TWILIO) :]
            return super().request(method, url, *args, **kw)

    return RebasedHttpClient(**kwargs)


class SmsTransport:
    name = "sms"

    def __init__(self, settings):
        from twilio.rest import Client

        self.sender = settings.sms_from
        http = (
            None
            if settings.sms_base_url.rstrip("/") == TWILIO
            else rebased_http_client(settings.sms_base_url, timeout=30)
        )
        self.client = Client(settings.sms_account_sid, settings.sms_auth_token, http_client=http)

    def send(self, to: str, body: str) -> str:
        """Hand one SMS to the provider; its message SID."""
        from twilio.base.exceptions import TwilioRestException

        try:
            message = self.client.messages.create(to=to, from_=self.sender, body=body)
        except TwilioRestException as exc:
            reason = f"provider {exc.status} code {exc.code}: {exc.msg}"
            if exc.status == 429 or exc.status >= 500:
                raise TransientFailure(reason) from None
            raise PermanentFailure(reason) from None
        except Exception as exc:  # noqa: BLE001 - connection refused, timeout: try again later
            raise TransientFailure(f"{type(exc).__name__}: {exc}") from None
        return message.sid

    def close(self) -> None:
        pass
