"""Alert episodes: a spike of negative mentions of one query, open until the
rate falls back. ``open_for`` holds the query id while the episode is open
(unique, sparse), so two replicas can never open two episodes at once."""

from __future__ import annotations

import mongoengine as me

from shared.store import utcnow


class AlertEpisode(me.Document):
    query_id = me.ObjectIdField(required=True)
    open_for = me.ObjectIdField()  # = query_id while open; unset when closed
    status = me.StringField(choices=("open", "closed"), default="open")
    opened_at = me.DateTimeField(default=utcnow)
    closed_at = me.DateTimeField()
    negative_count = me.IntField()
    negative_share = me.FloatField()
    baseline_share = me.FloatField()
    window_start = me.DateTimeField()
    window_end = me.DateTimeField()
    peak_negative_count = me.IntField()
    webhook_status = me.StringField(choices=("none", "pending", "delivered", "failed"), default="none")

    meta = {
        "collection": "alert_episodes",
        "indexes": [{"fields": ["open_for"], "unique": True, "sparse": True}, ("query_id", "-opened_at")],
    }


class WebhookCall(me.Document):
    """One attempt to call a query's webhook for an episode (kept for operators)."""

    episode_id = me.ObjectIdField(required=True)
    query_id = me.ObjectIdField(required=True)
    url = me.StringField(max_length=2000)
    attempt = me.IntField()
    at = me.DateTimeField(default=utcnow)
    status_code = me.IntField()
    error = me.StringField(max_length=1000)
    ok = me.BooleanField(default=False)

    meta = {"collection": "webhook_calls", "indexes": [("episode_id", "attempt")]}
