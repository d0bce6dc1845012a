"""Segments as every service reads them: the segments service writes them;
campaigns resolves an audience from them (shared/audience.py)."""

from __future__ import annotations

import mongoengine as me

from shared.store import utcnow


class Segment(me.Document):
    name = me.StringField(required=True, max_length=200)
    description = me.StringField(max_length=2000)
    kind = me.StringField(required=True, choices=("dynamic", "static"))
    # The rule tree as the marketer wrote it (dynamic segments).
    rule = me.DictField()
    # The rule compiled to one filter on the customers collection, as
    # bson.json_util JSON; relative times are {"__now__": <seconds from now>}
    # placeholders that shared.audience resolves at query time.
    compiled = me.StringField()
    archived = me.BooleanField(default=False)
    created_at = me.DateTimeField(default=utcnow)
    updated_at = me.DateTimeField(default=utcnow)

    meta = {"collection": "segments", "indexes": ["name", "archived"]}


class SegmentMember(me.Document):
    """Current membership: the static list, and dynamic membership kept fresh by events."""

    segment_id = me.ObjectIdField(required=True)
    customer_id = me.ObjectIdField(required=True)
    since = me.DateTimeField(default=utcnow)
    # the membership change that wrote the row (its announcement record; see segments.membership)
    via = me.ObjectIdField()

    meta = {
        "collection": "segment_members",
        "indexes": [{"fields": ["segment_id", "customer_id"], "unique": True}, "customer_id"],
    }
