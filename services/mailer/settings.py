"""Settings of the mailer service: ``VINCULO_MAILER_*`` (common ones may
also be set once as ``VINCULO_*``)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from shared import settings as base
from shared.settings import (
    CommonSettings,
    parse_bool,
    parse_float,
    parse_int,
    parse_positive_int,
    parse_url,
    setting,
)

PREFIX = "MAILER"


def parse_quiet_hours(raw: str) -> tuple[datetime.time, datetime.time] | None:
    """``21:00-09:00`` -> (start, end) local times; empty disables quiet hours."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        start, end = (datetime.time.fromisoformat(part.strip()) for part in raw.split("-"))
    except ValueError:
        raise ValueError(f"must look like 21:00-09:00 (or be empty), got {raw!r}") from None
    if start == end:
        raise ValueError("start and end must differ")
    return start, end


@dataclass(frozen=True)
class Settings(CommonSettings):
    bind: str = setting("127.0.0.1:8003", doc="host:port the api listens on")
    public_url: str = setting(
        "http://127.0.0.1:8003",
        parse=parse_url("http", "https"),
        doc="base URL customers reach the mailer at (links, pixel, unsubscribe)",
    )
    # email
    smtp_host: str = setting("127.0.0.1", doc="SMTP relay host")
    smtp_port: int = setting(25, parse=parse_positive_int, doc="SMTP relay port")
    smtp_starttls: bool = setting(False, parse=parse_bool, doc="upgrade the SMTP connection with STARTTLS")
    smtp_user: str = setting("", doc="SMTP AUTH user (empty: no AUTH)")
    smtp_password: str = setting("", doc="SMTP AUTH password")
    smtp_timeout: float = setting(30.0, parse=parse_float, doc="SMTP socket timeout in seconds")
    from_address: str = setting("hola@vinculo.example", doc="sender address of every email")
    from_name: str = setting("Vínculo", doc="default sender display name (a template may override it)")
    bounce_domain: str = setting(
        "bounces.vinculo.example", doc="domain of the VERP return path bounces+<delivery>@<domain>"
    )
    unsubscribe_mailto: str = setting(
        "unsubscribe@vinculo.example", doc="mailbox of the mailto: List-Unsubscribe"
    )
    dkim_domain: str = setting("", doc="DKIM d= domain (empty: no signing)")
    dkim_selector: str = setting("", doc="DKIM s= selector")
    dkim_key_path: str = setting("", doc="path of the PEM private key used for DKIM")
    # sms
    sms_base_url: str = setting(
        "https://api.twilio.com",
        parse=parse_url("http", "https"),
        doc="base URL of the Twilio-compatible SMS API",
    )
    sms_account_sid: str = setting("AC00000000000000000000000000000000", doc="Twilio account SID")
    sms_auth_token: str = setting("local-token", doc="Twilio auth token")
    sms_from: str = setting("+34600000000", doc="sender number (or messaging service) of SMS")
    # policy
    frequency_cap: int = setting(
        3, parse=parse_int, doc="most marketing messages per customer per window (0: no cap)"
    )
    frequency_window_days: int = setting(7, parse=parse_positive_int, doc="frequency cap window in days")
    quiet_hours: tuple | None = setting(
        parse_quiet_hours("21:00-09:00"),
        parse=parse_quiet_hours,
        doc="local hours without marketing messages (empty: none)",
    )
    rate_email: int = setting(2000, parse=parse_positive_int, doc="emails per second, across all workers")
    rate_sms: int = setting(50, parse=parse_positive_int, doc="SMS per second, across all workers")
    claim_lease: float = setting(
        120.0,
        parse=parse_float,
        doc="seconds after which a delivery left 'sending' by a dead worker is recovered",
    )
    smtp_connections: int = setting(
        1, parse=parse_positive_int, doc="emails in flight at once per worker, one SMTP session each"
    )
    finalize_every: int = setting(
        1, parse=parse_positive_int, doc="accepted messages recorded per store write (1: after each message)"
    )
    token_max_age_days: int = setting(
        90, parse=parse_positive_int, doc="days an unsubscribe or tracking link stays valid"
    )
    # preference center
    preferences_max_age_days: int = setting(
        30, parse=parse_positive_int, doc="days a preference-center link stays valid"
    )
    confirm_max_age_hours: int = setting(
        48, parse=parse_positive_int, doc="hours a double opt-in confirmation stays open (pending)"
    )
    wording_version: str = setting("prefs-2026-11", doc="version of the consent wording the pages show")
    public_rate_limit: int = setting(
        30, parse=parse_positive_int, doc="requests per IP and public page per window (429 beyond)"
    )
    public_rate_window: int = setting(60, parse=parse_positive_int, doc="rate-limit window in seconds")
    public_address_limit: int = setting(
        3,
        parse=parse_positive_int,
        doc="mails the public forms send to one address per window, whatever the client",
    )
    public_address_window: int = setting(
        3600, parse=parse_positive_int, doc="window of the per-address limit in seconds"
    )
    # render budget of templates (save, preview, send): render_budget.RenderBudget, SECURITY.md
    render_max_bytes: int = setting(
        256 * 1024,
        parse=parse_positive_int,
        doc="characters one rendered field (subject, text, html) may have",
    )
    render_max_iterations: int = setting(
        10_000,
        parse=parse_positive_int,
        doc="loop iterations one field's render may make (nested loops count each inner pass)",
    )
    render_max_seconds: float = setting(
        2.0, parse=parse_float, doc="time one field's render may take (seconds)"
    )
    segments_url: str = setting(
        "http://127.0.0.1:8001",
        parse=parse_url("http", "https"),
        doc="segments API (owner of Customer and the timeline): name, language and erasure go there; "
        '"my data" asks it for the customer\'s interactions',
    )
    segments_api_key: str = setting("", doc="marketer key the mailer uses on the segments API")
    listener_url: str = setting(
        "http://127.0.0.1:8004",
        parse=parse_url("http", "https"),
        doc="listener API (owner of mentions): a customer's mentions for their data download",
    )
    listener_api_key: str = setting(
        "", doc="community manager or marketer key the mailer uses on the listener API"
    )
    idle_every: float = setting(
        2.0, parse=parse_float, doc="seconds between the worker's sweeps for deferred and stale deliveries"
    )


def load(environ=None, **overrides) -> Settings:
    return base.load(Settings, PREFIX, environ, **overrides)
