"""The ``processed_messages`` collection: which consumer has handled which message id.

The consumer base (``shared.messaging.consumer.Worker``) reads it to skip a
copy it has handled, and writes it once a handler returned; the batch path
(``shared.messaging.batches``) reads and writes it in one query each. Rows
expire after 14 days.
"""

from __future__ import annotations

import mongoengine as me

from shared.store import utcnow


class ProcessedMessage(me.Document):
    consumer = me.StringField(required=True)
    message_id = me.StringField(required=True)
    at = me.DateTimeField(default=utcnow)

    meta = {
        "collection": "processed_messages",
        "indexes": [
            {"fields": ["consumer", "message_id"], "unique": True},
            {"fields": ["at"], "expireAfterSeconds": 14 * 24 * 3600},
        ],
    }
