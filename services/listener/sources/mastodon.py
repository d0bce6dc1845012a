"""Mastodon hashtag timelines through Mastodon.py 2.3.3, read forward with min_id.

A query's hashtags (and its one-word keywords, as tags) are each a timeline;
the cursor keeps the newest status id seen per tag. Mastodon.py is built with
``ratelimit_method="throw"`` so a 429 comes back to the poller, which waits
for the reset time (bounded) instead of sleeping inside the library.
"""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonRatelimitError,
    MastodonUnauthorizedError,
)

from services.listener.sources.base import (
    AuthFailed,
    FetchResult,
    PagedSource,
    Pages,
    Post,
    SourceError,
    html_text,
    wait_until,
)

PAGE = 40


def _tags(query) -> list[str]:
    from services.listener.queries import mastodon_tags

    return mastodon_tags(query)


def _naive(value) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, str):
        return _naive(datetime.datetime.fromisoformat(value.replace("Z", "+00:00")))
    return None


class MastodonSource(PagedSource):
    name = "mastodon"

    def __init__(
        self,
        base_url: str,
        access_token: str = "",
        timeout: float = 10.0,
        max_pages: int = 20,
        max_wait: float = 900.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.host = urlsplit(self.base_url).hostname or ""
        self.client = Mastodon(
            api_base_url=self.base_url,
            access_token=access_token or None,
            version_check_mode="none",
            ratelimit_method="throw",
            request_timeout=timeout,
        )
        self.max_pages = max_pages
        self.max_wait = max_wait

    def _reset_at(self) -> datetime.datetime | None:
        reset = getattr(self.client, "ratelimit_reset", None)
        try:
            return datetime.datetime.fromtimestamp(float(reset), datetime.UTC).replace(tzinfo=None)
        except (TypeError, ValueError, OSError):
            return None

    def post(self, status) -> Post:
        account = status.get("account") or {}
        acct = account.get("acct") or account.get("username") or ""
        if acct and "@" not in acct:
            acct = f"{acct}@{self.host}"  # local accounts: make the handle global
        return Post(
            source="mastodon",
            post_id=str(status["id"]),
            text=html_text(status.get("content")),
            posted_at=_naive(status.get("created_at")),
            author_handle=acct,
            author_name=account.get("display_name") or "",
            url=status.get("url") or "",
            lang_hint=status.get("language"),
        )

    def pages(self, query, cursor: dict) -> Pages:
        positions = dict(cursor.get("tags") or {})
        for tag in _tags(query):
            min_id = positions.get(tag)
            first = min_id is None  # first poll of this tag: the latest page only, no backfill
            try:
                for _page in range(self.max_pages):
                    if min_id is None:
                        page = self.client.timeline_hashtag(tag, limit=PAGE)
                    else:
                        page = self.client.timeline_hashtag(tag, min_id=min_id, limit=PAGE)
                    if page:
                        yield [self.post(status) for status in page]
                        min_id = str(max(int(str(status["id"])) for status in page))
                        positions[tag] = min_id
                    if first or len(page) < PAGE:
                        break
            except MastodonRatelimitError:
                retry_at = wait_until(self._reset_at(), 60.0, self.max_wait)
                return FetchResult(
                    [],
                    {"tags": positions},
                    retry_at=retry_at,
                    message=f"Mastodon rate limit (429); resuming at {retry_at.isoformat()}Z",
                )
            except MastodonUnauthorizedError as exc:
                raise AuthFailed(
                    f"Mastodon answered 401 Unauthorized: {exc.args[-1] if exc.args else exc}"
                ) from exc
            except MastodonAPIError as exc:
                status = exc.args[1] if len(exc.args) > 1 else None
                if status == 403:
                    raise AuthFailed(f"Mastodon answered 403 Forbidden: {exc.args[-1]}") from exc
                raise SourceError(f"Mastodon timeline #{tag} failed: {exc}") from exc
            except (MastodonNetworkError, MastodonError) as exc:
                raise SourceError(f"Mastodon timeline #{tag} failed: {exc}") from exc
        return FetchResult([], {"tags": positions})
