"""Send-time decisions for one recipient: consent, suppression, frequency
cap, quiet hours. Pure functions over data loaded in bulk for a batch.

Consent rules:
* ``marketing=True``: the (channel, topic) consent must be ``granted``.
* ``marketing=False`` (transactional: order, password, service notices) is
  only allowed on the ``service`` topic; it needs no opt-in, but an explicit
  ``denied``/``revoked`` for (channel, service) is respected. It is not
  counted by nor subject to the frequency cap and quiet hours.
* A pause chosen in the preference center stops marketing until it ends; a
  frequency chosen there (weekly, monthly) is a per-customer cap on top of
  the global one.
* Suppression (hard bounce, complaint, do-not-contact, erased, the hashed
  suppression list) stops every message, transactional or not.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TZ = "Europe/Madrid"


@dataclass(frozen=True)
class Decision:
    action: str  # send | skip | defer
    reason: str | None = None
    due_at: datetime.datetime | None = None  # naive UTC, for defer
    # The finer reason counted in results ("no_consent" splits into consent_pending and
    # consent_revoked); the reason itself when there is nothing finer to say.
    detail: str | None = None

    @property
    def code(self) -> str | None:
        return self.detail or self.reason


SEND = Decision("send")
# consent state -> the code a marketer sees ("no_consent" when nothing was ever recorded)
CONSENT_CODES = {"pending": "consent_pending", "revoked": "consent_revoked", "denied": "consent_revoked"}


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TZ)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TZ)


def quiet_until(
    now_utc: datetime.datetime, time_zone: str | None, quiet: tuple[datetime.time, datetime.time] | None
) -> datetime.datetime | None:
    """If ``now_utc`` (naive UTC) is inside the quiet hours where the recipient
    lives, the naive UTC time they end; else None."""
    if not quiet:
        return None
    start, end = quiet
    tz = zone(time_zone)
    local = now_utc.replace(tzinfo=datetime.UTC).astimezone(tz)
    t = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= t < end
        end_day = local.date()
    else:  # spans midnight, e.g. 21:00-09:00
        inside = t >= start or t < end
        end_day = local.date() + datetime.timedelta(days=1) if t >= start else local.date()
    if not inside:
        return None
    end_local = datetime.datetime.combine(end_day, end, tzinfo=tz)
    return end_local.astimezone(datetime.UTC).replace(tzinfo=None)


def address_of(customer: dict, channel: str) -> str | None:
    return customer.get("email") if channel == "email" else customer.get("phone")


def decide(
    *,
    customer: dict | None,
    channel: str,
    topic: str,
    marketing: bool,
    consent: str | None,
    suppressed_hash: bool,
    recent_marketing: int,
    cap: int,
    quiet,
    now: datetime.datetime,
    paused_until: datetime.datetime | None = None,
    personal_capped: bool = False,
) -> Decision:
    if customer is None:
        return Decision("skip", "unknown_customer")
    if customer.get("erased"):
        return Decision("skip", "erased")
    if not address_of(customer, channel):
        return Decision("skip", "no_address")
    suppression = customer.get("suppression") or {}
    if suppressed_hash or any(suppression.get(k) for k in ("bounced", "complained", "do_not_contact")):
        return Decision("skip", "suppressed")
    if marketing:
        if consent != "granted":
            return Decision("skip", "no_consent", detail=CONSENT_CODES.get(consent))
    else:
        if topic != "service":
            return Decision("skip", "not_transactional_topic")
        if consent in ("denied", "revoked"):
            return Decision("skip", "no_consent", detail="consent_revoked")
        return SEND
    if paused_until is not None and paused_until > now:
        return Decision("skip", "paused")  # the customer paused marketing in the preference center
    if (cap and recent_marketing >= cap) or personal_capped:
        return Decision("skip", "capped")
    until = quiet_until(now, customer.get("time_zone"), quiet)
    if until is not None:
        return Decision("defer", "quiet_hours", until)
    return SEND
