"""Listening queries: what to listen for, where, and each source's state."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import URL, Boolean, Dict, Integer, List, String
from apiflask.validators import Length, OneOf
from flask import current_app

from services.listener.api.common import iso
from services.listener.models import LANGUAGES, SOURCES, ListeningQuery, SourceCursor
from shared import normalize
from shared.http.auth import roles
from shared.http.errors import field_error, not_found
from shared.http.paging import PageOut, cursor_id, object_id
from shared.outbound import literal_host_refusal
from shared.store import utcnow

bp = APIBlueprint("queries", __name__, url_prefix="/queries", tag="queries")


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
    limit = Integer(load_default=50, validate=lambda n: 1 <= n <= 200)
    cursor = String()


def clean_terms(data: dict) -> dict:
    """Normalise terms: hashtags without '#', handles without '@' and lower case, no duplicates."""
    if "hashtags" in data:
        data["hashtags"] = list(
            dict.fromkeys(t.strip().lstrip("#") for t in data["hashtags"] if t.strip("# "))
        )
    if "handles" in data:
        data["handles"] = list(dict.fromkeys(filter(None, (normalize.handle(h) for h in data["handles"]))))
    for name in ("keywords", "exclusions", "languages", "sources", "feeds"):
        if name in data:
            data[name] = list(dict.fromkeys(t.strip() for t in data[name] if t.strip()))
    return data


def check(query: dict) -> None:
    """Rules across fields, each naming the field to fix."""
    if not (query.get("keywords") or query.get("hashtags") or query.get("handles")):
        raise field_error("keywords", "give at least one keyword, hashtag or handle")
    sources = query.get("sources") or []
    if "rss" in sources and not query.get("feeds"):
        raise field_error("feeds", "the rss source needs at least one feed URL")
    if "mastodon" in sources and not mastodon_tags(query):
        raise field_error(
            "hashtags", "the mastodon source reads hashtag timelines: give a hashtag or a one-word keyword"
        )
    overlap = {t.lower() for t in query.get("exclusions") or []} & {
        t.lower() for t in query.get("keywords") or []
    }
    if overlap:
        raise field_error("exclusions", f"also listed as keywords: {', '.join(sorted(overlap))}")
    check_urls(query)


def check_urls(query: dict) -> None:
    """Feed and webhook URLs whose host is visibly internal (an IP literal, localhost) are refused here;
    names are checked again, resolved, at every request (shared.outbound)."""
    if current_app.config["VINCULO_SETTINGS"].allow_private_urls:
        return
    for index, url in enumerate(query.get("feeds") or []):
        reason = literal_host_refusal(url)
        if reason:
            raise field_error(f"feeds.{index}", f"{reason}: feeds must be public addresses")
    reason = literal_host_refusal(query.get("webhook_url") or "")
    if reason:
        raise field_error("webhook_url", f"{reason}: webhooks must be public addresses")


def mastodon_tags(query) -> list[str]:
    get = query.get if isinstance(query, dict) else lambda name: getattr(query, name)
    tags = [t.lower() for t in get("hashtags") or []]
    tags += [k.lower() for k in get("keywords") or [] if k.isalnum()]
    return list(dict.fromkeys(tags))


def serialize(query: ListeningQuery, cursors: list[SourceCursor] | None = None) -> dict:
    if cursors is None:
        cursors = list(SourceCursor.objects(query_id=query.id))
    by_source = {c.source: c for c in cursors}
    status = {}
    for source in query.sources:
        cursor = by_source.get(source)
        status[source] = {
            "status": cursor.status if cursor else "pending",
            "message": cursor.message if cursor else None,
            "last_polled_at": iso(cursor.last_polled_at) if cursor else None,
            "fetched": cursor.fetched if cursor else 0,
        }
    return {
        "id": str(query.id),
        "name": query.name,
        "keywords": query.keywords,
        "hashtags": query.hashtags,
        "handles": query.handles,
        "exclusions": query.exclusions,
        "languages": query.languages,
        "sources": query.sources,
        "feeds": query.feeds,
        "active": query.active,
        "webhook_url": query.webhook_url,
        "source_status": status,
        "created_at": iso(query.created_at),
        "updated_at": iso(query.updated_at),
    }


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


def get_query(query_id: str) -> ListeningQuery:
    query = ListeningQuery.objects(id=object_id(query_id, "query")).first()
    if query is None:
        raise not_found("query", query_id)
    return query


@bp.post("")
@bp.input(QueryIn, arg_name="data")
@bp.output(QueryOut, status_code=201)
@roles("community_manager")
def create(data):
    """Create a listening query."""
    data = clean_terms(data)
    check(data)
    query = ListeningQuery(**data).save()
    return serialize(query, [])


@bp.get("")
@bp.input(QueryList, location="query", arg_name="args")
@bp.output(PageOut)
@roles("community_manager", "marketer", "analyst")
def index(args):
    """List listening queries, oldest first."""
    base = {} if "active" not in args else {"active": args["active"]}
    after = cursor_id(args)
    objects = ListeningQuery.objects(**base)
    total = objects.count()
    if after:
        objects = objects.filter(id__gt=after)
    page = list(objects.order_by("id").limit(args["limit"]))
    cursors: dict = {}
    for cursor in SourceCursor.objects(query_id__in=[q.id for q in page]):
        cursors.setdefault(cursor.query_id, []).append(cursor)
    items = [serialize(q, cursors.get(q.id, [])) for q in page]
    return {"items": items, "total": total, "next": str(page[-1].id) if len(page) == args["limit"] else None}


@bp.get("/<query_id>")
@bp.output(QueryOut)
@roles("community_manager", "marketer", "analyst")
def show(query_id):
    """One listening query with the state of each source."""
    return serialize(get_query(query_id))


@bp.patch("/<query_id>")
@bp.input(QueryPatch, arg_name="data")
@bp.output(QueryOut)
@roles("community_manager")
def update(query_id, data):
    """Change a query; pausing is {"active": false}. Editing restarts sources stopped by auth errors."""
    query = get_query(query_id)
    data = clean_terms(data)
    merged = {**{k: getattr(query, k) for k in QueryIn().fields}, **data}
    check(merged)
    data["updated_at"] = utcnow()
    ListeningQuery.objects(id=query.id).update_one(**{f"set__{k}": v for k, v in data.items()})
    SourceCursor.objects(query_id=query.id, status="auth_failed").update(
        set__status="pending", set__message="restarted after the query was edited", set__next_poll_at=utcnow()
    )
    return serialize(get_query(query_id))


@bp.delete("/<query_id>")
@bp.output({}, status_code=204)
@roles("community_manager")
def delete(query_id):
    """Delete a query; its mentions stay."""
    query = get_query(query_id)
    SourceCursor.objects(query_id=query.id).delete()
    query.delete()
    return ""
