"""Triage: list and filter mentions, assign, resolve, correct the sentiment;
daily figures per query for charts; alert episodes."""

from __future__ import annotations

import datetime

from apiflask import APIBlueprint, Schema
from apiflask.fields import AwareDateTime, Float, Integer, List, Raw, String
from apiflask.validators import Length, OneOf, Range
from bson import ObjectId

from services.listener.api.common import iso, naive
from services.listener.models import SOURCES, AlertEpisode, Mention
from services.listener.models.mention import LABELS, STATUSES
from services.listener.sentiment import label_for
from shared.http.auth import current_role, mask_personal, mask_value, roles
from shared.http.errors import ApiError, field_error, not_found
from shared.http.paging import PageOut, bad_cursor, cursor_id, object_id, parse_cursor
from shared.models import Interaction
from shared.store import utcnow

bp = APIBlueprint("mentions", __name__, tag="mentions")

# The score a correction gets when the community manager gives only a label.
LABEL_SCORES = {"negative": -0.6, "neutral": 0.0, "positive": 0.6}


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


def masked(data):
    """mask_personal, and for analysts no post URL or author name either: an X
    URL carries the author's handle (x.com/<handle>/status/...)."""
    data = mask_personal(data)
    if current_role() == "analyst":
        for item in data.get("items", [data]):
            item["url"] = None
            item["author_name"] = mask_value("author_name", item.get("author_name"))
    return data


def serialize(m: Mention) -> dict:
    correction = None
    if m.correction:
        c = m.correction
        correction = {
            "score": c.score,
            "label": c.label,
            "by": c.by,
            "at": iso(c.at),
            "previous_score": c.previous_score,
            "previous_label": c.previous_label,
            "note": c.note,
        }
    return {
        "id": str(m.id),
        "source": m.source,
        "post_id": m.post_id,
        "query_id": str(m.query_id),
        "query_ids": [str(q) for q in m.query_ids],
        "url": m.url,
        "text": m.text,
        "author_handle": m.author_handle,
        "author_name": m.author_name,
        "lang": m.lang,
        "sentiment": m.sentiment,
        "label": m.label,
        "engine_sentiment": m.engine_sentiment,
        "engine_label": m.engine_label,
        "model_version": m.model_version,
        "correction": correction,
        "posted_at": iso(m.posted_at),
        "fetched_at": iso(m.fetched_at),
        "customer_id": str(m.customer_id) if m.customer_id else None,
        "status": m.status,
        "assignee": m.assignee,
        "resolved_at": iso(m.resolved_at),
        "resolved_by": m.resolved_by,
        "history": [{**h, "at": iso(h.get("at"))} for h in m.history],
    }


def get_mention(mention_id: str) -> Mention:
    mention = Mention.objects(id=object_id(mention_id, "mention")).first()
    if mention is None:
        raise not_found("mention", mention_id)
    return mention


def mention_filter(args: dict) -> dict:
    query: dict = {}
    if args.get("query_id"):
        query["query_ids"] = object_id(args["query_id"], "query")
    for name in ("source", "lang", "label", "status", "assignee"):
        if args.get(name):
            query[name] = args[name]
    if args.get("customer_id"):
        query["customer_id"] = object_id(args["customer_id"], "customer")
    low, high = args.get("min_sentiment"), args.get("max_sentiment")
    if low is not None and high is not None and low > high:
        raise field_error("min_sentiment", "must not be greater than max_sentiment", location="query")
    if low is not None or high is not None:
        query["sentiment"] = {k: v for k, v in (("$gte", low), ("$lte", high)) if v is not None}
    since, until = naive(args.get("since")), naive(args.get("until"))
    if since and until and since > until:
        raise field_error("since", "must be before until", location="query")
    if since or until:
        query["posted_at"] = {k: v for k, v in (("$gte", since), ("$lt", until)) if v is not None}
    if args.get("corrected"):
        query["correction"] = {"$exists": args["corrected"] == "true"}
    if args.get("known"):
        if args.get("customer_id") and args["known"] == "false":
            raise field_error("known", "a customer's mentions are all known", location="query")
        query.setdefault("customer_id", {"$ne": None} if args["known"] == "true" else None)
    return query


def page_cursor(raw: str | None) -> tuple[datetime.datetime, ObjectId] | None:
    """``<posted_at in epoch µs>.<id>`` of the last mention of the previous page (exactly the
    stored time, whatever precision the store keeps). The order (posted_at, id) is total,
    so a cursor stays valid whatever is stored meanwhile."""
    if not raw:
        return None
    micros, _, raw_id = raw.partition(".")
    try:
        at = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=int(micros))
    except (ValueError, OverflowError):
        raise bad_cursor() from None
    if not raw_id:
        raise bad_cursor()
    return at, parse_cursor(raw_id)


def cursor_for(row: dict) -> str:
    micros = (row["posted_at"] - datetime.datetime(1970, 1, 1)) // datetime.timedelta(microseconds=1)
    return f"{micros}.{row['_id']}"


@bp.get("/mentions")
@bp.doc(responses={404: "query_id names no query"})
@bp.input(MentionFilter, location="query", arg_name="args")
@bp.output(PageOut)
@roles("community_manager", "marketer", "analyst")
def index(args):
    """Mentions, newest post first (by the post's time, then the newest stored), filtered;
    ``next`` is the cursor of the next page."""
    query = mention_filter(args)
    collection = Mention._get_collection()
    # Always inside $and: the store stand-in misses an ObjectId inside an array
    # ({"query_ids": id}) unless the filter is wrapped; MongoDB answers both the same.
    total = collection.count_documents({"$and": [query]} if query else {})
    after = page_cursor(args.get("cursor"))
    older = (
        [{"$or": [{"posted_at": {"$lt": after[0]}}, {"posted_at": after[0], "_id": {"$lt": after[1]}}]}]
        if after
        else []
    )
    page_query = {"$and": [query, *older]}
    rows = list(
        collection.find(page_query, {"_id": 1, "posted_at": 1})
        .sort([("posted_at", -1), ("_id", -1)])
        .limit(args["limit"])
    )
    ids = [row["_id"] for row in rows]
    by_id = {m.id: m for m in Mention.objects(id__in=ids)}
    items = [serialize(by_id[i]) for i in ids if i in by_id]
    return masked(
        {"items": items, "total": total, "next": cursor_for(rows[-1]) if len(rows) == args["limit"] else None}
    )


@bp.get("/mentions/<mention_id>")
@bp.output(MentionOut)
@roles("community_manager", "marketer", "analyst")
def show(mention_id):
    """One mention with its triage history."""
    return masked(serialize(get_mention(mention_id)))


def _act(mention: Mention, conditions: dict, updates: dict, entry: dict) -> Mention:
    """Apply a triage change with a conditional update (a concurrent change answers 409)."""
    entry["at"] = utcnow()
    done = Mention.objects(id=mention.id, **conditions).update_one(**updates, push__history=entry)
    if not done:
        raise ApiError(
            409, "The mention changed meanwhile; reload it", current=get_mention(str(mention.id)).status
        )
    return get_mention(str(mention.id))


@bp.post("/mentions/<mention_id>/assign")
@bp.input(AssignIn, arg_name="data")
@bp.output(MentionOut)
@roles("community_manager")
def assign(mention_id, data):
    """Assign a mention to a community manager (reopens a resolved one)."""
    mention = get_mention(mention_id)
    changed = _act(
        mention,
        {"status": mention.status},
        {
            "set__status": "assigned",
            "set__assignee": data["assignee"],
            "unset__resolved_at": True,
            "unset__resolved_by": True,
        },
        {"action": "assigned", "assignee": data["assignee"], "by": data.get("by")},
    )
    return serialize(changed)


@bp.post("/mentions/<mention_id>/resolve")
@bp.input(ResolveIn, arg_name="data")
@bp.output(MentionOut)
@roles("community_manager")
def resolve(mention_id, data):
    """Mark a mention resolved."""
    mention = get_mention(mention_id)
    if mention.status == "resolved":
        raise ApiError(409, "The mention is already resolved", current="resolved")
    now = utcnow()
    changed = _act(
        mention,
        {"status": mention.status},
        {"set__status": "resolved", "set__resolved_at": now, "set__resolved_by": data["by"]},
        {"action": "resolved", "by": data["by"], "note": data.get("note")},
    )
    return serialize(changed)


@bp.post("/mentions/<mention_id>/sentiment")
@bp.input(CorrectIn, arg_name="data")
@bp.output(MentionOut)
@roles("community_manager")
def correct(mention_id, data):
    """Correct the sentiment; the engine's score is kept, with who corrected it and when."""
    mention = get_mention(mention_id)
    score = data.get("score")
    if score is None:
        score = LABEL_SCORES[data["label"]]
    elif label_for(score) != data["label"]:
        raise field_error("score", f"{score} reads as {label_for(score)}, not {data['label']}")
    now = utcnow()
    correction = {
        "score": score,
        "label": data["label"],
        "by": data["by"],
        "at": now,
        "previous_score": mention.sentiment,
        "previous_label": mention.label,
        "note": data.get("note"),
    }
    from services.listener.models import Correction

    changed = _act(
        mention,
        {"sentiment": mention.sentiment, "label": mention.label},
        {"set__correction": Correction(**correction), "set__sentiment": score, "set__label": data["label"]},
        {
            "action": "sentiment_corrected",
            "by": data["by"],
            "label": data["label"],
            "score": score,
            "previous_label": mention.label,
        },
    )
    if mention.customer_id:
        Interaction.objects(key=f"mention:{mention.source}:{mention.post_id}").update(set__sentiment=score)
    return serialize(changed)


@bp.get("/queries/<query_id>/stats")
@bp.input(StatsIn, location="query", arg_name="args")
@bp.output(StatsOut)
@roles("community_manager", "marketer", "analyst")
def stats(query_id, args):
    """Mentions per day (UTC) of a query: count per label and mean sentiment, for charts."""
    from services.listener.stats import daily

    qid = object_id(query_id, "query")
    since, until = naive(args.get("since")), naive(args.get("until"))
    if since and until and since > until:
        raise field_error("since", "must be before until", location="query")
    return {"query_id": query_id, "days": daily(qid, since, until)}


@bp.get("/alerts")
@bp.doc(responses={404: "query_id names no query"})
@bp.input(AlertFilter, location="query", arg_name="args")
@bp.output(PageOut)
@roles("community_manager", "marketer", "analyst")
def alerts(args):
    """Alert episodes, newest first."""
    objects = AlertEpisode.objects
    if args.get("query_id"):
        objects = objects(query_id=object_id(args["query_id"], "query"))
    if args.get("status"):
        objects = objects(status=args["status"])
    total = objects.count()
    after = cursor_id(args)
    if after:
        objects = objects(id__lt=after)
    page = list(objects.order_by("-id").limit(args["limit"]))
    items = [
        {
            "id": str(e.id),
            "query_id": str(e.query_id),
            "status": e.status,
            "opened_at": iso(e.opened_at),
            "closed_at": iso(e.closed_at),
            "negative_count": e.negative_count,
            "negative_share": e.negative_share,
            "baseline_share": e.baseline_share,
            "window_start": iso(e.window_start),
            "window_end": iso(e.window_end),
            "peak_negative_count": e.peak_negative_count,
            "webhook_status": e.webhook_status,
        }
        for e in page
    ]
    return {"items": items, "total": total, "next": str(page[-1].id) if len(page) == args["limit"] else None}
