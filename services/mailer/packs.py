"""The compiled form of template versions that sends use, and which version a campaign
step sends.

A template's versions are immutable once saved, so a compiled version is
cached by (template id, number) for the life of the process; a step's version,
once its deliveries have one, never changes, so it is remembered too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from bson import ObjectId

from services.mailer.models import Template
from services.mailer.rendering import Compiled, compile_variant
from services.mailer.store import deliveries
from services.mailer.store import templates as store


@dataclass
class Pack:
    """A version compiled for every locale."""

    template_id: ObjectId
    number: int
    channel: str
    fallback: str
    variants: dict[str, Compiled]


_cache: dict[tuple, Pack] = {}
_steps: dict[tuple, int] = {}  # (campaign id, step, template id) -> the version its deliveries have
_lock = threading.Lock()


def pack(template_id: ObjectId, number: int, channel: str) -> Pack | None:
    key = (template_id, number)
    with _lock:
        found = _cache.get(key)
    if found is not None:
        return found
    version = store.version(template_id, number)
    if version is None:
        return None
    source = {**version.variants, **(version.compiled or {})}
    compiled = {locale: compile_variant(channel, locale, variant) for locale, variant in source.items()}
    found = Pack(template_id, number, channel, version.fallback_locale, compiled)
    with _lock:
        _cache[key] = found
    return found


def version_for_send(template: Template, campaign_id: str, step: str) -> int | None:
    """The version a campaign step sends: the one its earlier batches used, else the published one.

    A step's deliveries record their version, so a version published while
    the campaign runs reaches only steps that had not started. Once known,
    a step's version never changes: it is remembered, one read per step and process."""
    key = (campaign_id, step, template.id)
    with _lock:
        known = _steps.get(key)
    if known is not None:
        return known
    earlier = deliveries.version_sent_by_step(campaign_id, step, template.id)
    number = earlier or template.published_version
    if number and earlier:
        with _lock:
            if len(_steps) >= 10_000:
                _steps.clear()
            _steps[key] = number
    return number
