"""From fetched posts to stored, linked, announced mentions, in batches.

parse (the source did) -> filter (exclusions, languages) -> detect language
-> score sentiment -> link the author to a customer by social handle -> store
once (unique by source and post id) -> announce mention.received (segments,
owner of the customer's timeline, appends a linked mention's entry). Store
writes and handle lookups are batched: one insert_many and one $in lookup per
batch instead of one round trip per post.

Publishing after the write without losing events on a crash: before a batch
is stored, one outbox intent (kind ``mention.received``,
``shared.messaging.outbox``) lists its mention ids; it is dropped once the
batch's events are published (or kept in the outbox). An intent left behind
by a crash is resolved by the outbox relay (the poller's housekeeping;
``sweep`` runs it for this kind): the mentions of its ids that are stored are
announced, with the same message ids (consumers drop the copies). One insert
and one delete per batch, instead of a flag updated on every mention.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain, islice

from bson import ObjectId

from services.listener import store
from services.listener.announce import PRODUCER, message_id_for
from services.listener.sentiment import detect_many, score
from services.listener.sentiment.language import wordless
from services.listener.sources.base import Post, matches
from shared import normalize
from shared.logs import get_correlation_id
from shared.messaging import outbox as outboxes
from shared.messaging.contracts import Envelope, MentionReceived, envelope_for
from shared.store import utcnow

log = logging.getLogger(__name__)
# Source -> the network name used in Customer.social_keys ("x:handle").
NETWORKS = {"x": "x", "mastodon": "mastodon"}
KIND = "mention.received"


@dataclass
class IngestResult:
    new: list[dict] = field(default_factory=list)  # stored mention documents
    duplicates: int = 0
    filtered: int = 0
    linked: int = 0


def pending_collection():
    """The outbox intents (stored batches being announced are those of kind ``KIND``)."""
    return outboxes.intents()


def iso(value: datetime.datetime) -> str:
    return value.replace(tzinfo=datetime.UTC).isoformat()


def social_key(source: str, handle: str) -> str | None:
    network = NETWORKS.get(source)
    handle = normalize.handle(handle)
    return f"{network}:{handle}" if network and handle else None


def link(keys: set[str]) -> dict[str, ObjectId]:
    """social key -> customer id, in one indexed lookup (the oldest profile wins a shared handle)."""
    return store.customers_by_social_key(keys)


def event_for(doc: dict) -> MentionReceived:
    return MentionReceived(
        mention_id=str(doc["_id"]),
        query_id=str(doc["query_id"]),
        source=doc["source"],
        post_id=doc["post_id"],
        author_handle=doc.get("author_handle") or "",
        lang=doc["lang"],
        sentiment=doc["sentiment"],
        label=doc["label"],
        posted_at=iso(doc["posted_at"]),
        customer_id=str(doc["customer_id"]) if doc.get("customer_id") else None,
        url=doc.get("url"),
        summary=(doc.get("text") or "")[:500],
    )


def envelopes(docs: list[dict]) -> list[Envelope]:
    current = get_correlation_id()
    return [
        envelope_for(event_for(d), PRODUCER, current, message_id_for("mention.received", str(d["_id"])))
        for d in docs
    ]


def resolve(record: dict) -> list[Envelope]:
    """The stored mentions of an intent's batch (those a duplicate did not stop)."""
    return envelopes(store.mentions_with_ids(record.get("ids") or []))


outboxes.register(KIND, PRODUCER, resolve)


class Pipeline:
    def __init__(self, publisher: outboxes.Outbox, batch_size: int = 500):
        self.publisher = publisher
        self.batch_size = batch_size

    def ingest(self, query, posts: Iterable[Post], server_matched: bool = True) -> IngestResult:
        """Three stages at once on consecutive batches: batch n+2 is understood (CPU) while
        n+1 is stored and n is announced (each waits on the store or the broker). One thread
        per stage keeps batches in order; at most one batch waits before each stage, so
        memory stays bounded. The first failure of any stage is raised. ``posts`` may be a
        Fetch: batches are cut as its pages arrive."""
        result = IngestResult()
        batches = self._batches(posts)
        first, second = next(batches, None), next(batches, None)
        if second is None:
            if first:
                docs = self._understand(query, first, server_matched, result)
                self._announce_stored(self._store_batch(query, docs, result), result)
            return result
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="mention-store") as storer,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="mention-announce") as announcer,
        ):
            stored = None  # the last batch handed to the store stage
            announced: list = []  # the last two handed to the announce stage
            try:
                for batch in chain([first, second], batches):
                    docs = self._understand(query, batch, server_matched, result)
                    if stored is not None:
                        stored.result()  # re-raises a store failure before going further
                    if len(announced) > 1:
                        announced[-2].result()  # and an announce failure
                    stored = storer.submit(self._store_batch, query, docs, result)
                    announced = announced[-1:] + [announcer.submit(self._announce_after, stored, result)]
                for future in announced:
                    future.result()
            except BaseException:
                # Stop stages not yet started (their batches stay unstored: the cursor does not move).
                storer.shutdown(cancel_futures=True)
                announcer.shutdown(cancel_futures=True)
                raise
        return result

    def _batches(self, posts: Iterable[Post]) -> Iterator[list[Post]]:
        """Lists of up to batch_size posts, cut as the posts come."""
        posts = iter(posts)
        while batch := list(islice(posts, self.batch_size)):
            yield batch

    def _understand(self, query, posts: list[Post], server_matched: bool, result: IngestResult) -> list[dict]:
        """Filter, detect the language, score, link: the mention documents of a batch."""
        kept = [p for p in posts if matches(query, p.text, p.author_handle, server_matched=server_matched)]
        result.filtered += len(posts) - len(kept)
        langs = detect_many([p.text for p in kept], [p.lang_hint for p in kept])
        wanted = set(query.languages or [])
        # "und" is kept only for a post with no words (only emoji, a URL): one in another script
        # (Arabic, Hebrew, Cyrillic...) is "und" too, and is not in the languages asked for.
        rows = [
            (p, lang)
            for p, lang in zip(kept, langs)
            if not wanted or lang in wanted or (lang == "und" and wordless(p.text))
        ]
        result.filtered += len(kept) - len(rows)
        customers = link({k for k in (social_key(p.source, p.author_handle) for p, _ in rows) if k})
        now = utcnow()
        docs = []
        for post, lang in rows:
            sentiment = score(post.text, lang)
            key = social_key(post.source, post.author_handle)
            docs.append(
                {
                    "_id": ObjectId(),
                    "source": post.source,
                    "post_id": post.post_id,
                    "query_id": query.id,
                    "query_ids": [query.id],
                    "url": post.url,
                    "text": post.text,
                    "author_handle": normalize.handle(post.author_handle) or "",
                    "author_name": post.author_name,
                    "lang": lang,
                    "sentiment": sentiment.score,
                    "label": sentiment.label,
                    "engine_sentiment": sentiment.score,
                    "engine_label": sentiment.label,
                    "model_version": sentiment.model,
                    "posted_at": post.posted_at or now,
                    "fetched_at": now,
                    "customer_id": customers.get(key),
                    "status": "new",
                    "history": [],
                }
            )
        # The same post twice in one batch (two hashtags) is one mention.
        return list({(d["source"], d["post_id"]): d for d in docs}.values())

    def _store_batch(
        self, query, docs: list[dict], result: IngestResult
    ) -> tuple[outboxes.Intent | None, list[dict]]:
        """Record the batch's intent, store it once: (intent, new docs). The linked customers'
        timeline entries are segments' to write, from the mention.received events."""
        if not docs:
            return None, []
        pending = self.publisher.record(KIND, ids=[d["_id"] for d in docs])
        new = self._store(query, docs, result)
        return pending, new

    def _announce_after(self, stored, result: IngestResult) -> None:
        self._announce_stored(stored.result(), result)

    def _announce_stored(
        self, stored: tuple[outboxes.Intent | None, list[dict]], result: IngestResult
    ) -> None:
        """Announce a stored batch and drop its intent (a crash before: the relay)."""
        pending, new = stored
        if pending is None:
            return
        # Published, or kept in the outbox: announced either way.
        self.publisher.announce(pending, envelopes(new))
        result.new.extend(new)
        result.linked += sum(1 for d in new if d.get("customer_id"))

    def _store(self, query, docs: list[dict], result: IngestResult) -> list[dict]:
        if not docs:
            return []
        failed = store.insert_new_mentions(docs)
        duplicates = [docs[i] for i in sorted(failed)]
        if duplicates:
            result.duplicates += len(duplicates)
            # Already stored (an earlier poll, or another query): remember this query found it too.
            store.add_query_to_mentions(query.id, duplicates)
        return [d for i, d in enumerate(docs) if i not in failed]

    def sweep(self, older_than: float = 60.0, limit: int = 20) -> int:
        """Announce the batches a crash left unannounced (the outbox relay, for this kind only)."""
        return self.publisher.relay_intents([KIND], older_than=older_than, limit=limit)
