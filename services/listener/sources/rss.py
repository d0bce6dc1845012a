"""RSS and Atom feeds through feedparser 6.0.14.

Feed URLs are typed by users: they are fetched only through the guarded
client (``shared.outbound``: public addresses only, size and time limits,
errors that never carry the remote body) and feedparser parses the bytes.

Feeds have no server-side search: every new entry is matched locally against
the query's terms. Entries are identified by their id, else their link. The
cursor keeps, per feed, the newest published time seen and a bounded list of
the ids seen recently: an entry is new when its id is not in that list and
it is not older than the newest time minus LOOKBACK (entries that show up
late with an earlier date, or several in the same second, are still taken;
very old ones, e.g. a feed re-ordered after the ids list rolled over, are not).
"""

from __future__ import annotations

import calendar
import datetime
import email.utils

import feedparser

from services.listener.sources.base import (
    AuthFailed,
    FetchResult,
    PagedSource,
    Pages,
    Post,
    SourceError,
    html_text,
    matches,
    post_key,
    wait_until,
)
from shared.outbound import Outbound, OutboundError
from shared.store import utcnow

RECENT_IDS = 1000
LOOKBACK = datetime.timedelta(days=2)


def _published(entry) -> datetime.datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return datetime.datetime.fromtimestamp(calendar.timegm(parsed), datetime.UTC).replace(tzinfo=None)


def _retry_after(response) -> datetime.datetime | None:
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    if raw.strip().isdigit():
        return utcnow() + datetime.timedelta(seconds=int(raw))
    try:
        return email.utils.parsedate_to_datetime(raw).astimezone(datetime.UTC).replace(tzinfo=None)
    except (TypeError, ValueError):
        return None


class RssSource(PagedSource):
    name = "rss"

    def __init__(self, timeout: float = 10.0, max_wait: float = 900.0, outbound: Outbound | None = None):
        self.max_wait = max_wait
        self.outbound = outbound or Outbound(timeout=timeout)

    def pages(self, query, cursor: dict) -> Pages:
        feeds = dict(cursor.get("feeds") or {})
        warnings: list[str] = []
        for url in query.feeds or []:
            try:
                response = self.outbound.get(
                    url, headers={"User-Agent": "vinculo-listener/0.1 (+feedparser)"}
                )
            except OutboundError as exc:
                warnings.append(f"{url}: {exc}")
                continue
            if response.status == 429:
                retry_at = wait_until(_retry_after(response), 60.0, self.max_wait)
                return FetchResult(
                    [],
                    {"feeds": feeds},
                    retry_at=retry_at,
                    message=f"feed {url} rate limited (429); resuming at {retry_at.isoformat()}Z",
                )
            if response.status in (401, 403):
                raise AuthFailed(f"feed {url} answered HTTP {response.status}")
            if response.status >= 400:
                warnings.append(f"{url}: HTTP {response.status}")
                continue
            parsed = feedparser.parse(response.content)
            if parsed.bozo and not parsed.entries:
                # Not the parser's message: it can quote the body (what an internal service answered).
                warnings.append(f"{url}: not an RSS or Atom feed")
                continue
            state = feeds.get(url) or {}
            found = self._new_entries(query, url, parsed.entries, state)
            feeds[url] = state
            if found:
                yield found
        if warnings and len(warnings) == len(query.feeds or []):
            raise SourceError("; ".join(warnings))
        return FetchResult([], {"feeds": feeds}, warnings=warnings)

    def _new_entries(self, query, url: str, entries, state: dict) -> list[Post]:
        """Entries newer than the cursor; ``state`` is moved forward in place."""
        last = datetime.datetime.fromisoformat(state["published"]) if state.get("published") else None
        recent = list(state.get("recent") or [])
        recent_set = set(recent)
        found: list[Post] = []
        newest = last
        for entry in entries:
            raw_id = entry.get("id") or entry.get("link")
            if not raw_id or raw_id in recent_set:
                continue
            published = _published(entry)
            if published is not None and last is not None and published < last - LOOKBACK:
                continue
            if published is not None and (newest is None or published > newest):
                newest = published
            recent.append(raw_id)
            recent_set.add(raw_id)
            text = " ".join(filter(None, [entry.get("title"), html_text(entry.get("summary"))]))
            author = entry.get("author") or ""
            if not matches(query, text, author):
                continue
            found.append(
                Post(
                    source="rss",
                    post_id=post_key(raw_id),
                    text=text[:5000],
                    posted_at=published or utcnow(),
                    author_handle="",
                    author_name=author[:300],
                    url=entry.get("link") or url,
                    lang_hint=(entry.get("language") or "")[:2] or None,
                )
            )
        state["published"] = newest.isoformat() if newest else None
        state["recent"] = recent[-RECENT_IDS:]
        return found
