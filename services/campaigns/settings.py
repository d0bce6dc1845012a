"""Settings of the campaigns service: ``VINCULO_CAMPAIGNS_*`` (common ones may
also be set once as ``VINCULO_*``)."""

from __future__ import annotations

from dataclasses import dataclass

from shared import settings as base
from shared.settings import CommonSettings, parse_float, parse_positive_int, parse_url, setting

PREFIX = "CAMPAIGNS"


@dataclass(frozen=True)
class Settings(CommonSettings):
    bind: str = setting("127.0.0.1:8002", doc="host:port the api listens on")
    scheduler_poll_seconds: float = setting(
        0.5, parse=parse_float, doc="how often the scheduler looks for due work"
    )
    scheduler_lease_seconds: float = setting(
        10.0, parse=parse_float, doc="how long the scheduler lease lasts without renewal"
    )
    misfire_grace_seconds: float = setting(
        300.0,
        parse=parse_float,
        doc="a one-shot campaign found later than this after its time is marked missed instead of sent",
    )
    fanout_batch_size: int = setting(
        1000, parse=parse_positive_int, doc="recipients per send.requested message"
    )
    fanout_read_size: int = setting(
        50000, parse=parse_positive_int, doc="audience ids read from the store per query during a fan-out"
    )
    fanout_lease_seconds: float = setting(
        15.0,
        parse=parse_float,
        doc="a fan-out whose worker stopped renewing for this long is taken over by another worker",
    )
    stalled_after_seconds: float = setting(
        30.0,
        parse=parse_float,
        doc="the scheduler re-announces a run nobody has worked on for this long (a lost campaign.due)",
    )
    mailer_url: str = setting(
        "http://127.0.0.1:8003",
        parse=parse_url("http", "https"),
        doc="mailer API (owner of templates): a campaign's templates are checked there",
    )
    mailer_api_key: str = setting("", doc="marketer or analyst key campaigns uses on the mailer API")


def load(environ=None, **overrides) -> Settings:
    return base.load(Settings, PREFIX, environ, **overrides)
