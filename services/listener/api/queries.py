"""Listening queries: what to listen for, where, and each source's state."""

from __future__ import annotations

from apiflask import APIBlueprint

from services.listener import queries, store
from services.listener.api.common import iso
from services.listener.api.schemas import QueryIn, QueryList, QueryOut, QueryPatch
from services.listener.models import ListeningQuery, SourceCursor
from shared.bootstrap import current
from shared.http.auth import current_role, mask_value, roles
from shared.http.paging import PageOut, cursor_id, object_id

bp = APIBlueprint("queries", __name__, url_prefix="/queries", tag="queries")
# Who may edit a query (and admin) reads its webhook address: an incoming webhook's address
# is its own credential, so the roles that only read queries see its host only.
WEBHOOK_READERS = ("admin", "community_manager")


def webhook_as_seen(url: str | None) -> str | None:
    return url if not url or current_role() in WEBHOOK_READERS else mask_value("url", url)


def serialize(query: ListeningQuery, cursors: list[SourceCursor] | None = None) -> dict:
    if cursors is None:
        cursors = store.cursors_of(query.id)
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
        "webhook_url": webhook_as_seen(query.webhook_url),
        "source_status": status,
        "created_at": iso(query.created_at),
        "updated_at": iso(query.updated_at),
    }


def get_query(query_id: str) -> ListeningQuery:
    return queries.get(object_id(query_id, "query"), query_id)


def _private_urls_allowed() -> bool:
    return current().settings.allow_private_urls


@bp.post("")
@bp.input(QueryIn, arg_name="data")
@bp.output(QueryOut, status_code=201)
@roles("community_manager")
def create(data):
    """Create a listening query."""
    return serialize(queries.create(data, _private_urls_allowed()), [])


@bp.get("")
@bp.input(QueryList, location="query", arg_name="args")
@bp.output(PageOut)
@roles("community_manager", "marketer", "analyst")
def index(args):
    """List listening queries, oldest first."""
    after = cursor_id(args)
    total, page = store.query_page(args.get("active"), after, args["limit"])
    cursors = store.cursors_by_query([q.id for q in page])
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
    queries.update(get_query(query_id), data, _private_urls_allowed())
    return serialize(get_query(query_id))


@bp.delete("/<query_id>")
@bp.output({}, status_code=204)
@roles("community_manager")
def delete(query_id):
    """Delete a query; its mentions stay."""
    queries.delete(get_query(query_id))
    return ""
