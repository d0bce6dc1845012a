"""Request and answer schemas of the listener API (views parse with these, the domain
checks the rules across fields)."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import URL, AwareDateTime, Boolean, Dict, Float, Integer, List, Raw, String
from apiflask.validators import Length, OneOf, Range

from services.listener.models import LANGUAGES, SOURCES
from services.listener.models.mention import LABELS, STATUSES

# --- listening queries ---------------------------------------------------------------


class QueryIn(Schema):
    name = String(required=True, validate=Length(min=1, max=200))
    keywords = List(String(validate=Length(min=1, max=100)), load_default=list)
    hashtags = List(String(validate=Length(min=1, max=100)), load_default=list)
    handles = List(String(validate=Length(min=1, max=100)), load_default=list)
    exclusions = List(String(validate=Length(min=1, max=100)), load_default=list)
    languages = List(String(validate=OneOf(LANGUAGES)), load_default=list)
    sources = List(String(validate=OneOf(SOURCES)), required=True, validate=Length(min=1))
    feeds = List(URL(schemes={"http", "https"}), load_default=list)
    active = Boolean(load_default=True)
    webhook_url = URL(schemes={"http", "https"}, allow_none=True, load_default=None)


class QueryPatch(Schema):
    """Only the fields given change (no defaults here, unlike QueryIn)."""

    name = String(validate=Length(min=1, max=200))
    keywords = List(String(validate=Length(min=1, max=100)))
    hashtags = List(String(validate=Length(min=1, max=100)))
    handles = List(String(validate=Length(min=1, max=100)))
    exclusions = List(String(validate=Length(min=1, max=100)))
    languages = List(String(validate=OneOf(LANGUAGES)))
    sources = List(String(validate=OneOf(SOURCES)), validate=Length(min=1))
    feeds = List(URL(schemes={"http", "https"}))
    active = Boolean()
    webhook_url = URL(schemes={"http", "https"}, allow_none=True)


class QueryList(Schema):
    active = Boolean()
    limit = Integer(load_default=50, validate=Range(1, 200))
    cursor = String()


class QueryOut(Schema):
    id = String()
    name = String()
    keywords = List(String())
    hashtags = List(String())
    handles = List(String())
    exclusions = List(String())
    languages = List(String())
    sources = List(String())
    feeds = List(String())
    active = Boolean()
    webhook_url = String(allow_none=True)
    source_status = Dict(
        metadata={
            "description": "per source: status (pending, ok, rate_limited, "
            "auth_failed, error), message, last_polled_at, fetched"
        }
    )
    created_at = String()
    updated_at = String()


# --- mentions, figures, alerts -------------------------------------------------------


class MentionFilter(Schema):
    query_id = String()
    source = String(validate=OneOf(SOURCES))
    lang = String(validate=OneOf(("es", "en", "und")))
    label = String(validate=OneOf(LABELS))
    min_sentiment = Float(validate=Range(-1, 1))
    max_sentiment = Float(validate=Range(-1, 1))
    status = String(validate=OneOf(STATUSES))
    assignee = String()
    customer_id = String()
    since = AwareDateTime(format="iso")
    until = AwareDateTime(format="iso")
    corrected = String(validate=OneOf(("true", "false")))
    known = String(
        validate=OneOf(("true", "false")),
        metadata={"description": "true: only mentions linked to a customer; false: only the others"},
    )
    limit = Integer(load_default=50, validate=Range(1, 500))
    cursor = String()


class AssignIn(Schema):
    assignee = String(required=True, validate=Length(min=1, max=200))
    by = String(validate=Length(max=200))


class ResolveIn(Schema):
    by = String(required=True, validate=Length(min=1, max=200))
    note = String(validate=Length(max=500), metadata={"multiline": True})


class CorrectIn(Schema):
    label = String(required=True, validate=OneOf(LABELS))
    score = Float(validate=Range(-1, 1), metadata={"description": "optional; must agree with the label"})
    by = String(required=True, validate=Length(min=1, max=200))
    note = String(validate=Length(max=500), metadata={"multiline": True})


class StatsIn(Schema):
    since = AwareDateTime(format="iso")
    until = AwareDateTime(format="iso")


class StatsOut(Schema):
    query_id = String()
    days = List(
        Raw(), metadata={"description": "[{day, count, negative, neutral, positive, mean_sentiment}]"}
    )


class AlertFilter(Schema):
    query_id = String()
    status = String(validate=OneOf(("open", "closed")))
    limit = Integer(load_default=50, validate=Range(1, 200))
    cursor = String()


class MentionOut(Schema):
    id = String()
    source = String()
    post_id = String()
    query_id = String()
    query_ids = List(String())
    url = String(allow_none=True)
    text = String(allow_none=True)
    author_handle = String(allow_none=True)
    author_name = String(allow_none=True)
    lang = String()
    sentiment = Float(allow_none=True)
    label = String(allow_none=True)
    engine_sentiment = Float(allow_none=True)
    engine_label = String(allow_none=True)
    model_version = String(allow_none=True, metadata={"description": "the sentiment model that scored it"})
    correction = Raw(
        allow_none=True,
        metadata={"description": "score, label, by, at, previous_score, previous_label, note"},
    )
    posted_at = String()
    fetched_at = String(allow_none=True)
    customer_id = String(allow_none=True)
    status = String()
    assignee = String(allow_none=True)
    resolved_at = String(allow_none=True)
    resolved_by = String(allow_none=True)
    history = List(Raw(), metadata={"description": "triage actions: action, by, at, ..."})
