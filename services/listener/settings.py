"""Settings of the listener service: ``VINCULO_LISTENER_*`` (common ones may
also be set once as ``VINCULO_*``)."""

from __future__ import annotations

from dataclasses import dataclass

from shared import settings as base
from shared.settings import CommonSettings, parse_bool, parse_float, parse_positive_int, parse_url, setting

PREFIX = "LISTENER"


@dataclass(frozen=True)
class Settings(CommonSettings):
    bind: str = setting("127.0.0.1:8004", doc="host:port the api listens on")
    # polling
    poll_interval: float = setting(
        60.0, parse=parse_float, doc="seconds between polls of one (query, source)"
    )
    poll_idle: float = setting(1.0, parse=parse_float, doc="seconds the poller sleeps when nothing is due")
    lease_seconds: float = setting(
        120.0, parse=parse_float, doc="how long a poller holds a (query, source) before another may take it"
    )
    max_rate_limit_wait: float = setting(
        900.0, parse=parse_float, doc="longest wait after a 429 before trying again (seconds)"
    )
    first_poll_pages: int = setting(
        1, parse=parse_positive_int, doc="pages fetched on a query's first poll (no backfill beyond)"
    )
    max_pages: int = setting(20, parse=parse_positive_int, doc="pages fetched per poll at most")
    http_timeout: float = setting(10.0, parse=parse_float, doc="timeout of calls to X, Mastodon and feeds")
    # sources
    x_bearer_token: str = setting("", doc="X API v2 bearer token (empty: X polls report auth_failed)")
    x_api_base: str = setting(
        "https://api.twitter.com",
        parse=parse_url("http", "https"),
        doc="X API base URL (tests point it at a local server)",
    )
    mastodon_base_url: str = setting(
        "https://mastodon.social",
        parse=parse_url("http", "https"),
        doc="Mastodon instance whose hashtag timelines are read",
    )
    mastodon_access_token: str = setting("", doc="Mastodon access token (optional for public timelines)")
    # alerts (README, "Alerts")
    alert_window_minutes: int = setting(60, parse=parse_positive_int, doc="recent window of the alert rule")
    alert_baseline_hours: int = setting(24, parse=parse_positive_int, doc="baseline before the window")
    alert_min_negative: int = setting(
        5, parse=parse_positive_int, doc="negative mentions in the window needed to raise an alert"
    )
    alert_share_ratio: float = setting(
        2.0, parse=parse_float, doc="window negative share must reach this times the baseline share"
    )
    alert_min_share_increase: float = setting(
        0.15, parse=parse_float, doc="... and exceed the baseline share by at least this much"
    )
    alert_count_ratio: float = setting(
        3.0, parse=parse_float, doc="or: window negatives reach this times the baseline's hourly rate"
    )
    webhook_timeout: float = setting(5.0, parse=parse_float, doc="timeout of one webhook call (seconds)")
    webhook_attempts: int = setting(3, parse=parse_positive_int, doc="tries of a webhook call")
    # user-supplied URLs (feeds, webhooks): shared.outbound, SECURITY.md "Outbound requests"
    allow_private_urls: bool = setting(
        False,
        parse=parse_bool,
        common=True,
        doc="let feed and webhook URLs reach loopback, private and link-local "
        "addresses (local development and tests only)",
    )
    outbound_max_bytes: int = setting(
        5 * 1024 * 1024,
        parse=parse_positive_int,
        doc="largest feed or webhook answer read (bytes, decompressed)",
    )
    outbound_deadline: float = setting(
        30.0, parse=parse_float, doc="longest a feed fetch or webhook call may take in all (seconds)"
    )

    def outbound(self, timeout: float):
        """The guarded client for user-supplied URLs, configured from these settings."""
        from shared.outbound import Outbound

        return Outbound(
            allow_private=self.allow_private_urls,
            timeout=timeout,
            deadline=self.outbound_deadline,
            max_bytes=self.outbound_max_bytes,
        )


def load(environ=None, **overrides) -> Settings:
    return base.load(Settings, PREFIX, environ, **overrides)
