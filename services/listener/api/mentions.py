"""Triage: list and filter mentions, assign, resolve, correct the sentiment;
daily figures per query for charts; alert episodes. The rules are in
``services/listener/triage.py``; the schemas in ``api/schemas.py``."""

from __future__ import annotations

import datetime

from apiflask import APIBlueprint
from bson import ObjectId

from services.listener import stats as figures
from services.listener import store, triage
from services.listener.api.common import iso
from services.listener.api.schemas import (
    AlertFilter,
    AssignIn,
    CorrectIn,
    MentionFilter,
    MentionOut,
    ResolveIn,
    StatsIn,
    StatsOut,
)
from services.listener.models import Mention
from shared.bootstrap import current
from shared.http.auth import current_role, mask_personal, mask_value, roles
from shared.http.paging import PageOut, bad_cursor, cursor_id, object_id, parse_cursor

bp = APIBlueprint("mentions", __name__, tag="mentions")


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


def get_mention(mention_id: str) -> Mention:
    return triage.get(object_id(mention_id, "mention"), mention_id)


@bp.get("/mentions")
@bp.doc(responses={404: "query_id names no query"})
@bp.input(MentionFilter, location="query", arg_name="args")
@bp.output(PageOut)
@roles("community_manager", "marketer", "analyst")
def index(args):
    """Mentions, newest post first (by the post's time, then the newest stored), filtered;
    ``next`` is the cursor of the next page."""
    query_id = object_id(args["query_id"], "query") if args.get("query_id") else None
    customer_id = object_id(args["customer_id"], "customer") if args.get("customer_id") else None
    query = triage.mention_filter(args, query_id, customer_id)
    total = store.count_mentions(query)
    rows = store.mention_page(query, page_cursor(args.get("cursor")), args["limit"])
    ids = [row["_id"] for row in rows]
    by_id = store.mentions_by_id(ids)
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


@bp.post("/mentions/<mention_id>/assign")
@bp.input(AssignIn, arg_name="data")
@bp.output(MentionOut)
@roles("community_manager")
def assign(mention_id, data):
    """Assign a mention to a community manager (reopens a resolved one)."""
    return serialize(triage.assign(get_mention(mention_id), data["assignee"], data.get("by")))


@bp.post("/mentions/<mention_id>/resolve")
@bp.input(ResolveIn, arg_name="data")
@bp.output(MentionOut)
@roles("community_manager")
def resolve(mention_id, data):
    """Mark a mention resolved."""
    return serialize(triage.resolve(get_mention(mention_id), data["by"], data.get("note")))


@bp.post("/mentions/<mention_id>/sentiment")
@bp.input(CorrectIn, arg_name="data")
@bp.output(MentionOut)
@roles("community_manager")
def correct(mention_id, data):
    """Correct the sentiment; the engine's score is kept, with who corrected it and when."""
    mention = get_mention(mention_id)
    changed = triage.correct(
        mention, data["label"], data.get("score"), data["by"], data.get("note"), current()
    )
    return serialize(changed)


@bp.get("/queries/<query_id>/stats")
@bp.input(StatsIn, location="query", arg_name="args")
@bp.output(StatsOut)
@roles("community_manager", "marketer", "analyst")
def stats(query_id, args):
    """Mentions per day (UTC) of a query: count per label and mean sentiment, for charts."""
    qid = object_id(query_id, "query")
    since, until = triage.period(args.get("since"), args.get("until"))
    return {"query_id": query_id, "days": figures.daily(qid, since, until)}


@bp.get("/alerts")
@bp.doc(responses={404: "query_id names no query"})
@bp.input(AlertFilter, location="query", arg_name="args")
@bp.output(PageOut)
@roles("community_manager", "marketer", "analyst")
def alerts(args):
    """Alert episodes, newest first."""
    query_id = object_id(args["query_id"], "query") if args.get("query_id") else None
    total, page = store.episode_page(query_id, args.get("status"), cursor_id(args), args["limit"])
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
