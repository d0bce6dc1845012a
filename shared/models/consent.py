"""The consent ledger: one entry per change, and the current state per
(customer, channel, topic) kept beside it so a send-time check is one
indexed read. The mailer service is their only writer."""

from __future__ import annotations

import mongoengine as me

from shared.store import utcnow

CHANNELS = ("email", "sms")
TOPICS = ("newsletter", "promotions", "service")
CONSENT_STATUSES = ("granted", "pending", "denied", "revoked")


class ConsentEntry(me.Document):
    """An immutable record of one consent change (the audit trail)."""

    customer_id = me.ObjectIdField(required=True)
    channel = me.StringField(required=True, choices=CHANNELS)
    topic = me.StringField(required=True, choices=TOPICS)
    status = me.StringField(required=True, choices=CONSENT_STATUSES)
    source = me.StringField(required=True, max_length=100)  # api, import, preference_center, unsubscribe, ...
    at = me.DateTimeField(required=True, default=utcnow)
    ip = me.StringField(max_length=45)
    wording_version = me.StringField(max_length=50)
    note = me.StringField(max_length=500)
    # Makes a replayed change (same message, same form post) a no-op.
    idempotency_key = me.StringField(max_length=200)

    meta = {
        "collection": "consent_ledger",
        "indexes": [
            ("customer_id", "channel", "topic", "-at"),
            {"fields": ["idempotency_key"], "unique": True, "sparse": True},
        ],
    }


class ConsentState(me.Document):
    """The latest ledger entry's status for one customer, channel and topic."""

    customer_id = me.ObjectIdField(required=True)
    channel = me.StringField(required=True, choices=CHANNELS)
    topic = me.StringField(required=True, choices=TOPICS)
    status = me.StringField(required=True, choices=CONSENT_STATUSES)
    at = me.DateTimeField(required=True)
    entry_id = me.ObjectIdField()
    # For pending (double opt-in) consents: after this, the pending request is void.
    expires_at = me.DateTimeField()

    meta = {
        "collection": "consent_state",
        "indexes": [
            {"fields": ["customer_id", "channel", "topic"], "unique": True},
            ("channel", "topic", "status"),
        ],
    }

    @property
    def granted(self) -> bool:
        return self.status == "granted"
