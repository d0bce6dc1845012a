"""X (Twitter) recent search through tweepy 4.17, polled with since_id and
paginated with next_token.

tweepy has the API host in its code; ``client.session`` is a plain requests
Session, so an adapter mounted on https://api.twitter.com sends the same
requests to another base URL (a local server in tests, a proxy in some
deployments). A 429 keeps the page position (next_token) in the cursor so
the poll resumes where it stopped once the reset time has passed.
"""

from __future__ import annotations

import datetime

import requests
import tweepy
from requests.adapters import HTTPAdapter

from services.listener.sources.base import (
    AuthFailed,
    FetchResult,
    PagedSource,
    Pages,
    Post,
    SourceError,
    wait_until,
)
from shared.store import utcnow

X_HOST = "https://api.twitter.com"
TWEET_FIELDS = ["created_at", "lang", "author_id", "conversation_id"]


class RewriteAdapter(HTTPAdapter):
    """Send requests for https://api.twitter.com to ``base`` instead, with a timeout."""

    def __init__(self, base: str, timeout: float):
        super().__init__()
        self.base = base.rstrip("/")
        self.timeout = timeout

    def send(self, request, **kwargs):
        if request.url.startswith(X_HOST):
            request.url = self.base + request.url[len(X_HOST) :]
        kwargs["timeout"] = kwargs.get("timeout") or self.timeout
        return super().send(request, **kwargs)


def build_query(query) -> str:
    """X search syntax: (terms OR ...) -exclusions (lang:es OR lang:en) -is:retweet."""
    terms = [f'"{k}"' if " " in k else k for k in query.keywords or []]
    terms += [f"#{tag}" for tag in query.hashtags or []]
    terms += [f"@{handle}" for handle in query.handles or []]
    parts = [f"({' OR '.join(terms)})" if len(terms) > 1 else terms[0]]
    parts += [f'-"{e}"' if " " in e else f"-{e}" for e in query.exclusions or []]
    languages = query.languages or []
    if len(languages) == 1:
        parts.append(f"lang:{languages[0]}")
    elif languages:
        parts.append("(" + " OR ".join(f"lang:{lang}" for lang in languages) + ")")
    parts.append("-is:retweet")
    return " ".join(parts)


def _reset_at(response) -> datetime.datetime | None:
    raw = (getattr(response, "headers", None) or {}).get("x-rate-limit-reset")
    try:
        return datetime.datetime.fromtimestamp(int(raw), datetime.UTC).replace(tzinfo=None)
    except (TypeError, ValueError):
        return None


class XSource(PagedSource):
    name = "x"

    def __init__(
        self,
        bearer_token: str,
        api_base: str = X_HOST,
        timeout: float = 10.0,
        first_pages: int = 1,
        max_pages: int = 20,
        max_wait: float = 900.0,
    ):
        self.bearer_token = bearer_token
        self.client = tweepy.Client(bearer_token=bearer_token or None, wait_on_rate_limit=False)
        self.client.session.mount(X_HOST, RewriteAdapter(api_base if api_base else X_HOST, timeout))
        self.first_pages = first_pages
        self.max_pages = max_pages
        self.max_wait = max_wait

    def pages(self, query, cursor: dict) -> Pages:
        if not self.bearer_token:
            raise AuthFailed("no X bearer token configured (VINCULO_LISTENER_X_BEARER_TOKEN)")
        since_id = cursor.get("since_id")
        next_token = cursor.get("next_token")
        newest = cursor.get("newest_id")
        first_poll = since_id is None and next_token is None
        limit = self.first_pages if first_poll else self.max_pages
        search = build_query(query)
        for _page in range(limit):
            try:
                response = self.client.search_recent_tweets(
                    search,
                    since_id=since_id,
                    next_token=next_token,
                    max_results=100,
                    tweet_fields=TWEET_FIELDS,
                    expansions=["author_id"],
                    user_fields=["username", "name"],
                )
            except tweepy.TooManyRequests as exc:
                retry_at = wait_until(_reset_at(exc.response), 60.0, self.max_wait)
                return FetchResult(
                    [],
                    {"since_id": since_id, "next_token": next_token, "newest_id": newest},
                    retry_at=retry_at,
                    message=f"X rate limit (429); resuming at {retry_at.isoformat()}Z",
                )
            except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
                raise AuthFailed(
                    f"X answered {exc.response.status_code} "
                    f"{getattr(exc.response, 'reason', '')}: {'; '.join(exc.api_messages) or exc}"
                ) from exc
            except (tweepy.TweepyException, requests.RequestException) as exc:
                raise SourceError(f"X search failed: {exc}") from exc
            meta = response.meta or {}
            if meta.get("newest_id") and (newest is None or int(meta["newest_id"]) > int(newest)):
                newest = meta["newest_id"]
            users = {str(user.id): user for user in (response.includes or {}).get("users", [])}
            posts: list[Post] = []
            for tweet in response.data or []:
                user = users.get(str(tweet.author_id))
                handle = user.username if user else str(tweet.author_id or "")
                created = tweet.created_at
                posts.append(
                    Post(
                        source="x",
                        post_id=str(tweet.id),
                        text=tweet.text or "",
                        posted_at=created.astimezone(datetime.UTC).replace(tzinfo=None)
                        if created
                        else utcnow(),
                        author_handle=handle,
                        author_name=user.name if user else "",
                        url=f"https://x.com/{handle}/status/{tweet.id}",
                        lang_hint=tweet.lang,
                    )
                )
            if posts:
                yield posts
            next_token = meta.get("next_token")
            if not next_token:
                return FetchResult([], {"since_id": newest or since_id})
        if first_poll:  # no backfill past the first pages
            return FetchResult([], {"since_id": newest})
        return FetchResult([], {"since_id": since_id, "next_token": next_token, "newest_id": newest})
