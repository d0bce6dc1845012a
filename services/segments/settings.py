"""Settings of the segments service: ``VINCULO_SEGMENTS_*`` (common ones may
also be set once as ``VINCULO_*``)."""

from __future__ import annotations

from dataclasses import dataclass

from shared import settings as base
from shared.settings import CommonSettings, parse_bool, parse_float, parse_positive_int, setting

PREFIX = "SEGMENTS"


@dataclass(frozen=True)
class Settings(CommonSettings):
    bind: str = setting("127.0.0.1:8001", doc="host:port the api listens on")
    default_country: str = setting("ES", doc="country for phone numbers written without +prefix")
    import_batch_size: int = setting(
        1000, parse=parse_positive_int, doc="rows per import batch (one checkpoint each)"
    )
    import_chunk_bytes: int = setting(
        1024 * 1024, parse=parse_positive_int, doc="bytes per stored chunk of an uploaded import file"
    )
    import_max_bytes: int = setting(
        512 * 1024 * 1024, parse=parse_positive_int, doc="largest import file accepted"
    )
    import_events: bool = setting(
        True, parse=parse_bool, doc="publish customer.created/updated (source=import) for imported rows"
    )
    worker_batch_size: int = setting(
        100,
        parse=parse_positive_int,
        doc="most segments.membership or segments.facts events handled together (1: one by one)",
    )
    worker_batch_wait: float = setting(
        0.005,
        parse=parse_float,
        doc="seconds the worker waits for one more event before handling the batch it holds",
    )
    job_poll_seconds: float = setting(1.0, parse=parse_float, doc="how often an idle worker looks for jobs")
    job_lease_seconds: float = setting(
        120.0, parse=parse_float, doc="a running job not renewed for this long is taken over"
    )
    recompute_interval: float = setting(
        3600.0, parse=parse_float, doc="seconds between full recomputes of relative-time segments"
    )


def load(environ=None, **overrides) -> Settings:
    return base.load(Settings, PREFIX, environ, **overrides)
