"""What the preference center stores besides consents: per-customer
delivery preferences (pause, frequency), the audit log of every change made
through the public pages, and fixed rate-limit windows of those pages."""

from __future__ import annotations

import mongoengine as me

from shared.store import utcnow

FREQUENCIES = ("any", "weekly", "monthly")
# frequency -> (most marketing messages, window in days)
FREQUENCY_CAPS = {"weekly": (1, 7), "monthly": (1, 30)}
PAUSE_DAYS = (30, 90)


class Preference(me.Document):
    """One per customer: marketing paused until a time, and a chosen frequency."""

    customer_id = me.ObjectIdField(required=True)
    paused_until = me.DateTimeField()
    frequency = me.StringField(default="any", choices=FREQUENCIES)
    updated_at = me.DateTimeField(default=utcnow)

    meta = {"collection": "preferences", "indexes": [{"fields": ["customer_id"], "unique": True}]}


class AuditEntry(me.Document):
    """Who (the token's customer), what, when, from which IP."""

    customer_id = me.ObjectIdField()
    action = me.StringField(required=True)
    detail = me.DictField()
    at = me.DateTimeField(default=utcnow)
    ip = me.StringField()

    meta = {"collection": "audit_log", "indexes": ["customer_id", "at"]}


class PublicHit(me.Document):
    """Requests of one IP to one public endpoint in one fixed window."""

    key = me.StringField(required=True)
    window = me.IntField(required=True)
    count = me.IntField(default=0)
    expires_at = me.DateTimeField()

    meta = {
        "collection": "public_hits",
        "indexes": [
            {"fields": ["key", "window"], "unique": True},
            {"fields": ["expires_at"], "expireAfterSeconds": 0},
        ],
    }


DOCUMENTS = (Preference, AuditEntry, PublicHit)
