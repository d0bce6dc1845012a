"""Who a campaign would reach, and why not the others, before it is sent.

The same send-time rules the worker applies (``checks.BatchContext`` and
``policy.decide``), run over a segment's audience without sending anything:
"31 in segment, 2 reachable, 29 without consent for newsletter". Read in
batches of ``BATCH`` (one query each for profiles, consents, suppression,
recent sends), the cost of a fan-out's checks without the sends.
"""

from __future__ import annotations

import collections

from services.mailer.checks import BatchContext
from services.mailer.store import recipients
from shared.audience import iter_audience
from shared.errors import NotFound
from shared.store import utcnow

BATCH = 1000


def reachability(segment_id, channel: str, topic: str, marketing: bool, settings) -> dict:
    """Counts for the segment: in it, reachable now, deferred (quiet hours), and not reachable per reason."""
    segment = recipients.segment(segment_id)
    if segment is None or getattr(segment, "archived", False):
        raise NotFound("segment", segment_id)
    now = utcnow()
    total = reachable = 0
    deferred: collections.Counter = collections.Counter()
    not_reachable: collections.Counter = collections.Counter()
    for ids in iter_audience(segment, batch_size=BATCH, now=now):
        total += len(ids)
        context = BatchContext(ids, channel, topic, marketing, settings, now)
        for cid in ids:
            decision = context.decide(cid)
            if decision.action == "send":
                reachable += 1
            elif decision.action == "defer":
                reachable += 1
                deferred[decision.code] += 1
            else:
                not_reachable[decision.code] += 1
    return {
        "segment_id": str(segment.id),
        "channel": channel,
        "topic": topic,
        "in_segment": total,
        "reachable": reachable,
        "deferred": dict(deferred),
        "not_reachable": dict(not_reachable),
    }
