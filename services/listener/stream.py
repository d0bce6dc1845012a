"""The optional X filtered stream (``python -m services.listener stream``).

X allows one stream connection per app and up to 1,000 rules, so this part
runs as one process (not replicated): each active query with the x source is
one rule tagged with the query id, kept in sync with the queries; each
tweet goes through the same pipeline as polled ones, so a tweet both
streamed and found by search is stored once. tweepy's StreamingClient
reconnects by itself when the server closes the stream, with backoff on
network errors (0.25 s steps to 16 s) and HTTP errors (5 s doubling to
320 s, 60 s at least after a 429); ``max_retries`` bounds it. A 401/403 stops
the stream and shows on each streamed query's x status; SIGTERM disconnects
cleanly after the line in hand.
"""

from __future__ import annotations

import datetime
import logging
import math
import signal
import threading

import tweepy
from tweepy import StreamRule

from services.listener import store
from services.listener.models import ListeningQuery
from services.listener.sources.base import Post
from services.listener.sources.x import TWEET_FIELDS, X_HOST, RewriteAdapter, build_query
from shared.store import utcnow

log = logging.getLogger(__name__)


class MentionStream(tweepy.StreamingClient):
    def __init__(self, settings, pipeline, max_retries: float = math.inf):
        super().__init__(settings.x_bearer_token, wait_on_rate_limit=False, max_retries=max_retries)
        self.session.mount(X_HOST, RewriteAdapter(settings.x_api_base, settings.http_timeout))
        self.pipeline = pipeline
        self.queries: dict[str, ListeningQuery] = {}
        self.received = 0
        self.stop_after: int | None = None  # tests and one-off runs
        self.stopped_by: int | None = None

    def sync_rules(self, queries) -> dict:
        """Make the stream's rules exactly one per query (tag = query id); returns what changed."""
        want = {str(q.id): build_query(q) for q in queries}
        current = self.get_rules().data or []
        stale = [rule.id for rule in current if want.get(rule.tag) != rule.value]
        kept = {rule.tag for rule in current if want.get(rule.tag) == rule.value}
        if stale:
            self.delete_rules(stale)
        add = [StreamRule(value=value, tag=tag) for tag, value in want.items() if tag not in kept]
        if add:
            self.add_rules(add)
        self.queries = {str(q.id): q for q in queries}
        return {"added": len(add), "deleted": len(stale)}

    def on_response(self, response):
        tweet = response.data
        if tweet is None:
            return
        users = {str(user.id): user for user in (response.includes or {}).get("users", [])}
        user = users.get(str(tweet.author_id))
        handle = user.username if user else str(tweet.author_id or "")
        created = tweet.created_at
        post = Post(
            source="x",
            post_id=str(tweet.id),
            text=tweet.text or "",
            posted_at=created.astimezone(datetime.UTC).replace(tzinfo=None) if created else utcnow(),
            author_handle=handle,
            author_name=user.name if user else "",
            url=f"https://x.com/{handle}/status/{tweet.id}",
            lang_hint=tweet.lang,
        )
        for rule in response.matching_rules or []:
            query = self.queries.get(str(rule.tag))
            if query is not None:
                self.pipeline.ingest(query, [post])
        self.received += 1
        if self.stop_after is not None and self.received >= self.stop_after:
            self.disconnect()

    def on_request_error(self, status_code):
        if status_code in (401, 403):
            message = f"X filtered stream answered {status_code}: check the bearer token and access level"
            for query in self.queries.values():
                change = {"status": "auth_failed", "message": message, "updated_at": utcnow()}
                store.stop_source(query.id, "x", change)
            log.warning(message)
            self.stopped_by = status_code
            self.disconnect()
        else:
            log.warning("X filtered stream answered %s; tweepy retries with backoff", status_code)

    def on_exception(self, exception):
        log.exception("X filtered stream stopped on an error: %s", exception)

    def run(self, **params):
        """Connect and consume until disconnect() (blocking)."""
        self.filter(
            expansions=["author_id"], tweet_fields=TWEET_FIELDS, user_fields=["username", "name"], **params
        )


def streamed_queries():
    return store.streamed_queries()


def main(parts) -> None:
    """Run the stream with the listener's parts (``bootstrap.build``) until SIGTERM."""
    settings = parts.settings
    parts.prepare_store()
    stream = MentionStream(settings, parts.pipeline)
    stopping = threading.Event()

    def stop(*_):
        stopping.set()
        stream.disconnect()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stream.sync_rules(streamed_queries())
    thread = stream.filter(
        threaded=True, expansions=["author_id"], tweet_fields=TWEET_FIELDS, user_fields=["username", "name"]
    )
    while not stopping.wait(settings.poll_interval):
        if not thread.is_alive():
            break
        try:
            stream.sync_rules(streamed_queries())
        except tweepy.TweepyException as exc:
            log.warning("could not sync stream rules: %s", exc)
    stream.disconnect()
    thread.join(timeout=30)
    parts.close()
