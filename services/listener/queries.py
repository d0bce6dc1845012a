"""Listening queries: the rules of what a query may say, and its changes.

Terms are normalised (hashtags without '#', handles without '@' and in lower case,
no duplicates); the rules across fields each name the field to fix
(``shared.errors.Invalid``). Feed and webhook URLs whose host is visibly
internal (an IP literal, localhost) are refused here; names are checked again,
resolved, at every request (``shared.outbound``).
"""

from __future__ import annotations

from bson import ObjectId

from services.listener import store
from services.listener.models import ListeningQuery
from shared import normalize
from shared.errors import Invalid, NotFound
from shared.outbound import literal_host_refusal
from shared.store import utcnow

# The fields a query is made of (those a change merges into before the rules are checked).
FIELDS = (
    "name",
    "keywords",
    "hashtags",
    "handles",
    "exclusions",
    "languages",
    "sources",
    "feeds",
    "active",
    "webhook_url",
)


def clean_terms(data: dict) -> dict:
    """Normalise terms: Unicode NFC (a decomposed "é" is the same term, a Mastodon tag, and what
    the sources are searched for), hashtags without '#', handles without '@' and lower case, no
    duplicates."""
    if "hashtags" in data:
        tags = (normalize.text(t) or "" for t in data["hashtags"])
        data["hashtags"] = list(dict.fromkeys(t.lstrip("#") for t in tags if t.strip("# ")))
    if "handles" in data:
        data["handles"] = list(dict.fromkeys(filter(None, (normalize.handle(h) for h in data["handles"]))))
    for name in ("keywords", "exclusions", "languages", "sources", "feeds"):
        if name in data:
            data[name] = list(dict.fromkeys(filter(None, (normalize.text(t) for t in data[name]))))
    return data


def check(query: dict, allow_private_urls: bool = False) -> None:
    """Rules across fields, each naming the field to fix."""
    if not (query.get("keywords") or query.get("hashtags") or query.get("handles")):
        raise Invalid("keywords", "give at least one keyword, hashtag or handle")
    sources = query.get("sources") or []
    if "rss" in sources and not query.get("feeds"):
        raise Invalid("feeds", "the rss source needs at least one feed URL")
    if "mastodon" in sources and not mastodon_tags(query):
        raise Invalid(
            "hashtags", "the mastodon source reads hashtag timelines: give a hashtag or a one-word keyword"
        )
    overlap = {t.lower() for t in query.get("exclusions") or []} & {
        t.lower() for t in query.get("keywords") or []
    }
    if overlap:
        raise Invalid("exclusions", f"also listed as keywords: {', '.join(sorted(overlap))}")
    if not allow_private_urls:
        check_urls(query)


def check_urls(query: dict) -> None:
    """Feed and webhook URLs must not name an internal host literally."""
    for index, url in enumerate(query.get("feeds") or []):
        reason = literal_host_refusal(url)
        if reason:
            raise Invalid(f"feeds.{index}", f"{reason}: feeds must be public addresses")
    reason = literal_host_refusal(query.get("webhook_url") or "")
    if reason:
        raise Invalid("webhook_url", f"{reason}: webhooks must be public addresses")


def mastodon_tags(query) -> list[str]:
    get = query.get if isinstance(query, dict) else lambda name: getattr(query, name)
    tags = [t.lower() for t in get("hashtags") or []]
    tags += [k.lower() for k in get("keywords") or [] if k.isalnum()]
    return list(dict.fromkeys(tags))


def get(query_id: ObjectId, ident=None) -> ListeningQuery:
    """The query, or NotFound naming ``ident`` (the id as given; the id by default)."""
    query = store.find_query(query_id)
    if query is None:
        raise NotFound("query", query_id if ident is None else ident)
    return query


def create(data: dict, allow_private_urls: bool = False) -> ListeningQuery:
    data = clean_terms(data)
    check(data, allow_private_urls)
    return store.add_query(data)


def update(query: ListeningQuery, data: dict, allow_private_urls: bool = False) -> None:
    """Change the fields given; editing restarts the sources stopped by auth errors."""
    data = clean_terms(data)
    merged = {**{k: getattr(query, k) for k in FIELDS}, **data}
    check(merged, allow_private_urls)
    data["updated_at"] = utcnow()
    store.update_query(query.id, data)
    store.restart_stopped_sources(query.id)


def delete(query: ListeningQuery) -> None:
    """The query and its sources' state go; its mentions stay."""
    store.delete_query(query)
