"""The segments API app factory."""

from __future__ import annotations

from services.segments import bootstrap
from services.segments.settings import Settings
from shared.http.app import service_api


def create_app(settings: Settings | None = None, parts: bootstrap.SegmentsParts | None = None):
    """Build the segments API from its parts (``bootstrap.build``; see ``shared.http.app.service_api``)."""
    from services.segments.api import customers, imports, places, segments

    return service_api(
        __name__,
        parts or bootstrap.build(settings),
        title="Vínculo audience API: customer profiles, imports and segments",
        description="Customer profiles, imports and segments, kept fresh as events arrive.",
        blueprints=(customers.bp, segments.bp, imports.bp, places.bp),
    )
