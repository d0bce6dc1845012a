"""The ``outbox`` collection: envelopes the broker did not take, kept for ``Outbox.relay``.

``keep_in_outbox(envelopes, error)`` stores them (one already there, same
message id, is fine); the relay in ``shared.messaging.outbox`` publishes them
later with the same id.
"""

from __future__ import annotations

import mongoengine as me
from pymongo.errors import DuplicateKeyError

from shared import metrics
from shared.messaging.contracts import Envelope
from shared.store import utcnow


class OutboxMessage(me.Document):
    envelope = me.StringField(required=True)
    message_id = me.StringField(required=True)
    created_at = me.DateTimeField(default=utcnow)
    attempts = me.IntField(default=0)
    last_error = me.StringField()

    meta = {"collection": "outbox", "indexes": [{"fields": ["message_id"], "unique": True}, "created_at"]}


def keep_in_outbox(envelopes: list[Envelope], error: Exception) -> None:
    """Store envelopes for ``Outbox.relay``; one already stored (same id) is fine."""
    for envelope in envelopes:
        try:
            OutboxMessage(
                envelope=envelope.to_json(), message_id=envelope.message_id, last_error=str(error)[:500]
            ).save(force_insert=True)
        except (me.NotUniqueError, DuplicateKeyError):
            continue
        metrics.OUTBOXED.labels(envelope.type).inc()
