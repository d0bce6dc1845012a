"""Settings of the segments service: ``VINCULO_SEGMENTS_*`` (common ones may
also be set once as ``VINCULO_*``)."""

from __future__ import annotations

from dataclasses import dataclass

from shared import settings as base
from shared.settings import CommonSettings, setting

PREFIX = "SEGMENTS"


@dataclass(frozen=True)
class Settings(CommonSettings):
    bind: str = setting("127.0.0.1:8001", doc="host:port the api listens on")


def load(environ=None, **overrides) -> Settings:
    return base.load(Settings, PREFIX, environ, **overrides)
