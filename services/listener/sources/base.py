"""What every source gives the pipeline: normalised posts, a new cursor,
and the errors a poller must treat differently (rate limit, auth)."""

from __future__ import annotations

import datetime
import hashlib
import html
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from shared import normalize
from shared.store import utcnow

_TAG_RE = re.compile(r"<[^>]+>")


@dataclass
class Post:
    source: str
    post_id: str
    text: str
    posted_at: datetime.datetime  # naive UTC
    author_handle: str = ""
    author_name: str = ""
    url: str = ""
    lang_hint: str | None = None


@dataclass
class FetchResult:
    posts: list[Post]
    cursor: dict
    # Set when the source answered 429: store what came, wait until then, resume from ``cursor``.
    retry_at: datetime.datetime | None = None
    message: str | None = None
    warnings: list[str] = field(default_factory=list)


class AuthFailed(Exception):
    """401/403: the source stays stopped for this query until someone fixes access."""


class SourceError(Exception):
    """Anything else (network, 5xx, bad data): retried at the next interval."""


# A poll as a source makes it: each page's posts as it arrives, then the
# FetchResult (its ``posts`` empty: they were yielded) as the generator's value.
Pages = Generator[list[Post], None, FetchResult]


class Source(Protocol):
    name: str

    def pages(self, query, cursor: dict) -> Pages: ...


class PagedSource:
    """What every source shares: ``fetch`` reads a whole poll into one FetchResult."""

    def pages(self, query, cursor: dict) -> Pages:
        raise NotImplementedError

    def fetch(self, query, cursor: dict) -> FetchResult:
        fetch = Fetch(self.pages(query, cursor))
        posts = list(fetch)
        if fetch.error is not None:
            raise fetch.error
        fetch.result.posts = posts
        return fetch.result


class Fetch:
    """A poll's posts one by one as its pages arrive, so the pipeline works on the
    first page while later ones are fetched (and never holds a whole backlog).

    Iterating stops at the end of the poll, or early when the source fails:
    the posts already given are kept (stored, deduplicated if fetched again),
    ``error`` holds the failure and ``result`` stays None, so the cursor does
    not move. Otherwise ``result`` is the source's FetchResult.
    """

    def __init__(self, pages: Pages):
        self._pages = pages
        self.result: FetchResult | None = None
        self.error: Exception | None = None
        self.count = 0

    def __iter__(self) -> Iterator[Post]:
        while True:
            try:
                page = next(self._pages)
            except StopIteration as end:
                self.result = end.value
                return
            except Exception as exc:  # noqa: BLE001 - the poller classifies it (auth, source, surprise)
                self.error = exc
                return
            self.count += len(page)
            yield from page

    def close(self) -> None:
        """Stop the source where it is (a pipeline failure mid-poll): no further pages are fetched."""
        self._pages.close()


def html_text(value: str | None) -> str:
    """Plain text of an HTML fragment (Mastodon content, feed summaries)."""
    if not value:
        return ""
    text = _TAG_RE.sub(" ", value.replace("<br>", "\n").replace("</p>", "\n"))
    return re.sub(r"[ \t]+", " ", html.unescape(text)).strip()


def post_key(raw: str) -> str:
    """A post id that fits the index (long feed ids become a digest)."""
    raw = str(raw)
    return raw if len(raw) <= 200 else "sha1:" + hashlib.sha1(raw.encode()).hexdigest()


def wait_until(reset: datetime.datetime | None, default: float, bound: float) -> datetime.datetime:
    """When to try again after a 429: the source's reset time, within [1 s, bound]."""
    now = utcnow()
    if reset is None:
        seconds = default
    else:
        seconds = (reset - now).total_seconds()
    seconds = min(max(seconds, 1.0), bound)
    return now + datetime.timedelta(seconds=seconds)


_WORD_EDGE = re.compile(r"[a-z0-9]")


def _found(term: str, folded: str) -> bool:
    """``term`` (folded) in ``folded`` as a word, as X and Mastodon match: "seat" is not in
    "seats". A side of the term that is not a Latin letter or digit needs no boundary: words
    written without spaces (Japanese, Chinese) are still found inside the text."""
    before = r"(?<![a-z0-9])" if _WORD_EDGE.match(term[:1]) else ""
    after = r"(?![a-z0-9])" if _WORD_EDGE.match(term[-1:]) else ""
    return bool(term) and re.search(before + re.escape(term) + after, folded) is not None


def matches(query, text: str, author_handle: str = "", server_matched: bool = False) -> bool:
    """Local filter: exclusions always (anywhere in the text); the terms themselves, as words,
    only where the source did not search for us (RSS)."""
    folded = normalize.fold(text)
    if any(normalize.fold(term) in folded for term in query.exclusions or []):
        return False
    if server_matched:
        return True
    if any(_found(normalize.fold(k), folded) for k in query.keywords or []):
        return True
    if any(_found(f"#{normalize.fold(tag)}", folded) for tag in query.hashtags or []):
        return True
    handle = normalize.handle(author_handle) or ""
    return any(h == handle or _found(f"@{h}", folded) for h in query.handles or [])
