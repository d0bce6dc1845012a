"""The preference center's building blocks, kept out of the views: CSRF
tokens, the per-IP fixed-window rate limit, the audit log, the customer a
link names, recording a consent change (``Visit``, ``change``), the calls to
the segments service (which owns Customer) and the small emails the
public pages send (a fresh link, a double opt-in confirmation).

CSRF: a form reached with a signed link carries ``hmac(secret, token)`` in
a hidden field (the link is the session). Forms without a link (subscribe,
ask for a new link) use a double-submit cookie: a random nonce in an
HttpOnly SameSite=Strict cookie and its HMAC in the form; another site can
neither read the cookie nor make the HMAC.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

import requests
from bson import ObjectId
from bson.errors import InvalidId

from services.mailer import consents, email_message
from services.mailer.store import preferences as store
from services.mailer.tokens import TokenError
from shared import normalize
from shared.errors import Unavailable
from shared.store import utcnow

CSRF_COOKIE = "vinculo_csrf"
SOURCE = "preference_center"
MARKETING_TOPICS = ("newsletter", "promotions")
TIMELINE_PAGE = 500  # segments' largest page


def _mac(secret: str, what: str) -> str:
    return hmac.new(secret.encode(), what.encode(), hashlib.sha256).hexdigest()


def csrf_for_token(secret: str, token: str) -> str:
    return _mac(secret, f"csrf:link:{token}")


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def csrf_for_nonce(secret: str, nonce: str) -> str:
    return _mac(secret, f"csrf:cookie:{nonce}")


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected and given) and hmac.compare_digest(expected, given)


def hit(key: str, limit: int, window_seconds: int, now: datetime.datetime | None = None) -> bool:
    """Count one request for ``key`` in the current fixed window; False when over ``limit``."""
    now = now or utcnow()
    window = int(now.timestamp()) // window_seconds
    count = store.count_hit(key, window, now + datetime.timedelta(seconds=2 * window_seconds))
    return count is not None and count <= limit


def mail_allowed(settings, address: str, now: datetime.datetime | None = None) -> bool:
    """Count one public-form mail to ``address``; False past ``public_address_limit`` per window.

    The per-client limit alone let one address get 16 mails in seconds from
    many clients. The key is a digest, so the hits collection holds no address.
    """
    digest = hashlib.sha256(f"public-mail|{address.strip().lower()}".encode()).hexdigest()
    return hit(f"mail|{digest}", settings.public_address_limit, settings.public_address_window, now)


def audit(customer_id, action: str, ip: str | None, **detail) -> None:
    store.add_audit(ObjectId(customer_id) if customer_id else None, action, ip, detail)


def find_customer(email: str | None) -> dict | None:
    try:
        address = normalize.email(email)
    except ValueError:
        return None
    if not address:
        return None
    return store.find_live_customer_by_email(address)


def linked_customer(data) -> tuple[ObjectId, dict]:
    """The customer a verified link's data names (TokenError if malformed); an erased
    customer's link is void."""
    try:
        customer_id = ObjectId(data["c"])
    except (InvalidId, TypeError, KeyError):
        raise TokenError("the link is not valid") from None
    customer = store.find_customer(customer_id)
    if customer is None or customer.get("erased"):
        raise TokenError("the link is not valid")
    return customer_id, customer


def choices_of(customer_id) -> dict:
    """What the center shows as chosen: the granted (channel, topic) pairs, the pause (if still on)
    and the frequency."""
    pref = store.preference_of(customer_id)
    paused = pref.get("paused_until")
    granted = {(s.channel, s.topic) for s in consents.current(customer_id) if s.status == "granted"}
    return {
        "granted": granted,
        "paused_until": paused if paused and paused > utcnow() else None,
        "frequency": pref.get("frequency") or "any",
    }


@dataclass(frozen=True)
class Visit:
    """Who acts through the public pages and with what: the settings, the mailer's
    parts (``events``, ``tokens``, ``links``) and the visitor's IP (audited)."""

    settings: object
    parts: object
    ip: str | None


def change(visit: Visit, customer_id, channel, topic, status, *, note=None, key=None):
    """Record a consent change made through the preference center."""
    return consents.record_change(
        customer_id,
        channel,
        topic,
        status,
        SOURCE,
        events=visit.parts.events,
        ip=visit.ip,
        wording_version=visit.settings.wording_version,
        note=note,
        idempotency_key=key,
    )


class SegmentsError(Unavailable):
    """The segments service did not do what was asked (down, or refused)."""


class Segments:
    """The few calls the mailer makes to the owner of Customer and of the timeline
    (``interactions``). Synchronous: the customer is waiting on the page for the answer
    (their name, language or erasure either happened, their data download holds the
    timeline as segments holds it now, or they are told to try again), and it keeps one
    writer of Customer and one reader of the timeline's store."""

    def __init__(self, settings):
        self.base = settings.segments_url.rstrip("/")
        self.headers = {"X-API-Key": settings.segments_api_key}

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            response = requests.request(
                method, f"{self.base}{path}", headers=self.headers, timeout=10, **kwargs
            )
        except requests.RequestException as exc:
            raise SegmentsError(f"segments unreachable: {exc}") from None
        if response.status_code >= 400:
            raise SegmentsError(f"segments answered {response.status_code}: {response.text[:300]}")
        return response

    def update(self, customer_id, fields: dict) -> None:
        self._call("PATCH", f"/customers/{customer_id}", json=fields)

    def create(self, email: str, locale: str) -> str:
        return self._call("POST", "/customers", json={"email": email, "locale": locale}).json()["id"]

    def erase(self, customer_id) -> None:
        self._call("DELETE", f"/customers/{customer_id}")

    def interactions_of(self, customer_id) -> list[dict]:
        """The customer's whole timeline as segments' API shows it, every page, oldest first
        (SegmentsError when any page is not answered: never part of it)."""
        items, cursor = [], None
        while True:
            params = {"limit": TIMELINE_PAGE, **({"cursor": cursor} if cursor else {})}
            page = self._call("GET", f"/customers/{customer_id}/interactions", params=params).json()
            items += page["items"]
            cursor = page.get("next")
            if not cursor:
                return sorted(items, key=lambda item: item.get("at") or "")


def send_email(settings, *, to: str, subject: str, text: str) -> None:
    """One plain message through the mailer's SMTP transport (raises its Transient/PermanentFailure)."""
    domain = settings.from_address.partition("@")[2] or "vinculo.invalid"
    raw = email_message.build(
        from_name=settings.from_name,
        from_address=settings.from_address,
        to_name="",
        to_address=to,
        subject=subject,
        text=text,
        html=None,
        message_id=f"<prefs-{uuid.uuid4().hex}@{domain}>",
    )
    transport = email_message.SmtpTransport(settings)
    try:
        transport.send(settings.from_address, to, transport.finish(raw))
    finally:
        transport.close()
