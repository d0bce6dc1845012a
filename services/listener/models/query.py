"""Listening queries and the cursor each (query, source) pair keeps."""

from __future__ import annotations

import mongoengine as me

from shared.store import utcnow

SOURCES = ("x", "mastodon", "rss")
LANGUAGES = ("es", "en")
# ok: polled normally; rate_limited: waiting for the reset time, then resumes;
# auth_failed: stopped until the query is edited (credentials or access fixed);
# error: the last poll failed (network, 5xx), retried next interval.
SOURCE_STATUSES = ("pending", "ok", "rate_limited", "auth_failed", "error")


class ListeningQuery(me.Document):
    name = me.StringField(required=True, max_length=200)
    keywords = me.ListField(me.StringField(max_length=100))
    hashtags = me.ListField(me.StringField(max_length=100))  # without '#'
    handles = me.ListField(me.StringField(max_length=100))  # normalised, without '@'
    exclusions = me.ListField(me.StringField(max_length=100))
    languages = me.ListField(me.StringField(choices=LANGUAGES))  # empty: any
    sources = me.ListField(me.StringField(choices=SOURCES))
    feeds = me.ListField(me.StringField(max_length=2000))  # RSS/Atom URLs (source "rss")
    active = me.BooleanField(default=True)
    webhook_url = me.StringField(max_length=2000)
    created_at = me.DateTimeField(default=utcnow)
    updated_at = me.DateTimeField(default=utcnow)

    meta = {"collection": "listening_queries", "indexes": ["active", "name"]}


class SourceCursor(me.Document):
    """Where polling of one source for one query stands, and who holds it now.

    ``cursor`` is the source's own position (X since_id and a pending
    next_token, Mastodon min_id per hashtag, RSS published time and seen ids
    per feed). A poller takes the pair with a conditional update on
    ``lease_until`` so replicas never poll the same pair at once; the
    posts of a poll are stored before the cursor moves, so a crash repeats
    (deduplicated) work and never skips any.
    """

    query_id = me.ObjectIdField(required=True)
    source = me.StringField(required=True, choices=SOURCES)
    cursor = me.DictField()
    status = me.StringField(choices=SOURCE_STATUSES, default="pending")
    message = me.StringField(max_length=1000)
    lease_owner = me.StringField(max_length=100)
    lease_until = me.DateTimeField()
    next_poll_at = me.DateTimeField()
    last_polled_at = me.DateTimeField()
    fetched = me.IntField(default=0)
    updated_at = me.DateTimeField(default=utcnow)

    meta = {
        "collection": "source_cursors",
        "indexes": [{"fields": ["query_id", "source"], "unique": True}, "next_poll_at"],
    }
