"""A post that matched a listening query, with its language, sentiment and
triage state. Unique by (source, post_id): a post fetched again, or by
another query, is the same mention."""

from __future__ import annotations

import mongoengine as me

from shared.store import utcnow

STATUSES = ("new", "assigned", "resolved")
LABELS = ("negative", "neutral", "positive")


class Correction(me.EmbeddedDocument):
    """A community manager's sentiment, kept beside the engine's original."""

    score = me.FloatField(min_value=-1, max_value=1)
    label = me.StringField(choices=LABELS)
    by = me.StringField(max_length=200)
    at = me.DateTimeField(default=utcnow)
    previous_score = me.FloatField()
    previous_label = me.StringField()
    note = me.StringField(max_length=500)


class Mention(me.Document):
    source = me.StringField(required=True)
    post_id = me.StringField(required=True, max_length=200)
    query_id = me.ObjectIdField(required=True)  # the first query that found it
    query_ids = me.ListField(me.ObjectIdField())
    url = me.StringField(max_length=2000)
    text = me.StringField()
    author_handle = me.StringField(max_length=300)
    author_name = me.StringField(max_length=300)
    lang = me.StringField(max_length=5)
    # The current sentiment (the correction's when there is one).
    sentiment = me.FloatField(min_value=-1, max_value=1)
    label = me.StringField(choices=LABELS)
    engine_sentiment = me.FloatField()
    engine_label = me.StringField(choices=LABELS)
    # The sentiment model's version that gave engine_sentiment/engine_label.
    model_version = me.StringField(max_length=100)
    correction = me.EmbeddedDocumentField(Correction)
    posted_at = me.DateTimeField(required=True)
    fetched_at = me.DateTimeField(default=utcnow)
    customer_id = me.ObjectIdField()
    status = me.StringField(choices=STATUSES, default="new")
    assignee = me.StringField(max_length=200)
    resolved_at = me.DateTimeField()
    resolved_by = me.StringField(max_length=200)
    history = me.ListField(me.DictField())  # triage actions: {"action", "by", "at", ...}

    meta = {
        "collection": "mentions",
        "indexes": [
            {"fields": ["source", "post_id"], "unique": True},
            ("query_ids", "-posted_at"),
            ("query_ids", "label", "posted_at"),
            ("status", "-posted_at"),
            "customer_id",
        ],
    }
