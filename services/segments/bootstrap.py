"""The segments service's composition root: settings and the one outbox of the
process, built once and passed down to every part (api, worker).

Views reach the parts with ``shared.bootstrap.current()``; the worker's
consumers, job runner and relay get them from ``__main__``.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.segments.events import PRODUCER
from services.segments.models import SERVICE_DOCUMENTS
from services.segments.settings import Settings, load
from shared.bootstrap import Parts


@dataclass
class SegmentsParts(Parts):
    settings: Settings


def build(settings: Settings | None = None) -> SegmentsParts:
    """The parts of one segments process (nothing is connected until first used)."""
    return SegmentsParts(settings=settings or load(), producer=PRODUCER, documents=SERVICE_DOCUMENTS)
