"""The interaction timeline for the 360-degree view, written by segments (owner of
the profile): purchases itself, messages and consent changes from the mailer's
events, mentions from the listener's."""

from __future__ import annotations

import mongoengine as me

from shared.store import utcnow

INTERACTION_KINDS = (
    "message_sent",
    "message_opened",
    "message_clicked",
    "message_bounced",
    "mention",
    "purchase",
    "consent_changed",
)


class Interaction(me.Document):
    customer_id = me.ObjectIdField(required=True)
    kind = me.StringField(required=True, choices=INTERACTION_KINDS)
    at = me.DateTimeField(required=True, default=utcnow)
    # Unique per fact ("delivery:<id>:opened", "mention:x:<post>") so a
    # redelivered event never writes the fact twice.
    key = me.StringField(required=True, max_length=300)
    channel = me.StringField(max_length=20)
    campaign_id = me.StringField(max_length=64)
    sentiment = me.FloatField(min_value=-1, max_value=1)
    amount = me.DecimalField(precision=2)
    currency = me.StringField(max_length=3)
    summary = me.StringField(max_length=500)
    data = me.DictField()

    meta = {
        "collection": "interactions",
        "indexes": [
            {"fields": ["key"], "unique": True},
            ("customer_id", "-at"),
            ("customer_id", "kind", "-at"),
            ("campaign_id", "kind"),
        ],
    }
