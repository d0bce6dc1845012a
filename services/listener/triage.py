"""Triage of mentions: which mentions a filter means, and the changes a community
manager makes (assign, resolve, correct the sentiment).

Each change is a conditional update on the state it was decided on, so a
concurrent change is refused (``Conflict``) rather than overwritten; each is
logged in the mention's history. A correction keeps the engine's score beside
it and, for a linked mention, announces ``mention.corrected`` (through the outbox,
intended before the write): segments, owner of the customer's timeline, carries the
new sentiment to the mention's entry.
"""

from __future__ import annotations

import datetime

from bson import ObjectId

from services.listener import store
from services.listener.announce import PRODUCER, message_id_for
from services.listener.models import Correction, Mention
from services.listener.sentiment import label_for
from shared.errors import Conflict, Invalid, NotFound
from shared.messaging import outbox as outboxes
from shared.messaging.contracts import Envelope, MentionCorrected
from shared.store import to_utc_naive, utcnow

# The score a correction gets when the community manager gives only a label.
LABEL_SCORES = {"negative": -0.6, "neutral": 0.0, "positive": 0.6}


def _naive(value: datetime.datetime | None) -> datetime.datetime | None:
    return None if value is None else to_utc_naive(value)


def period(since: datetime.datetime | None, until: datetime.datetime | None):
    """(since, until) as naive UTC for the store; since after until is refused."""
    since, until = _naive(since), _naive(until)
    if since and until and since > until:
        raise Invalid("since", "must be before until", location="query")
    return since, until


def mention_filter(args: dict, query_id: ObjectId | None = None, customer_id: ObjectId | None = None) -> dict:
    """The store filter of a list's parameters (ids already parsed)."""
    query: dict = {}
    if query_id is not None:
        query["query_ids"] = query_id
    for name in ("source", "lang", "label", "status", "assignee"):
        if args.get(name):
            query[name] = args[name]
    if customer_id is not None:
        query["customer_id"] = customer_id
    low, high = args.get("min_sentiment"), args.get("max_sentiment")
    if low is not None and high is not None and low > high:
        raise Invalid("min_sentiment", "must not be greater than max_sentiment", location="query")
    if low is not None or high is not None:
        query["sentiment"] = {k: v for k, v in (("$gte", low), ("$lte", high)) if v is not None}
    since, until = period(args.get("since"), args.get("until"))
    if since or until:
        query["posted_at"] = {k: v for k, v in (("$gte", since), ("$lt", until)) if v is not None}
    if args.get("corrected"):
        query["correction"] = {"$exists": args["corrected"] == "true"}
    if args.get("known"):
        if customer_id is not None and args["known"] == "false":
            raise Invalid("known", "a customer's mentions are all known", location="query")
        query.setdefault("customer_id", {"$ne": None} if args["known"] == "true" else None)
    return query


def get(mention_id: ObjectId, ident=None) -> Mention:
    """The mention, or NotFound naming ``ident`` (the id as given; the id by default)."""
    mention = store.find_mention(mention_id)
    if mention is None:
        raise NotFound("mention", mention_id if ident is None else ident)
    return mention


def _act(mention: Mention, conditions: dict, updates: dict, entry: dict) -> Mention:
    """Apply a triage change with a conditional update (a concurrent change is a Conflict)."""
    entry["at"] = utcnow()
    if not store.update_mention_if(mention.id, conditions, updates, entry):
        raise Conflict("The mention changed meanwhile; reload it", current=get(mention.id).status)
    return get(mention.id)


def assign(mention: Mention, assignee: str, by: str | None) -> Mention:
    """Assign to a community manager (reopens a resolved mention)."""
    return _act(
        mention,
        {"status": mention.status},
        {
            "set__status": "assigned",
            "set__assignee": assignee,
            "unset__resolved_at": True,
            "unset__resolved_by": True,
        },
        {"action": "assigned", "assignee": assignee, "by": by},
    )


def resolve(mention: Mention, by: str, note: str | None) -> Mention:
    if mention.status == "resolved":
        raise Conflict("The mention is already resolved", current="resolved")
    now = utcnow()
    return _act(
        mention,
        {"status": mention.status},
        {"set__status": "resolved", "set__resolved_at": now, "set__resolved_by": by},
        {"action": "resolved", "by": by, "note": note},
    )


def _corrected(envelope: Envelope, record: dict) -> bool:
    """An intent's mention.corrected is a fact when the mention holds that correction."""
    event = envelope.event()
    mention = store.find_mention(ObjectId(event.mention_id))
    return bool(
        mention
        and mention.correction
        and mention.sentiment == event.sentiment
        and mention.label == event.label
    )


outboxes.register(MentionCorrected.type, PRODUCER, outboxes.checked(_corrected))


def correct(
    mention: Mention,
    label: str,
    score: float | None,
    by: str,
    note: str | None,
    parts,
) -> Mention:
    """Correct the sentiment (a score, if given, must read as the label); the engine's is kept.
    ``parts``: the service's parts (their outbox announces the correction)."""
    events = parts.outbox
    if score is None:
        score = LABEL_SCORES[label]
    elif label_for(score) != label:
        raise Invalid("score", f"{score} reads as {label_for(score)}, not {label}")
    correction = Correction(
        score=score,
        label=label,
        by=by,
        at=utcnow(),
        previous_score=mention.sentiment,
        previous_label=mention.label,
        note=note,
    )
    intent = None
    if mention.customer_id:
        intent = events.intend(
            MentionCorrected(
                mention_id=str(mention.id),
                source=mention.source,
                post_id=mention.post_id,
                customer_id=str(mention.customer_id),
                sentiment=score,
                label=label,
            ),
            message_id=message_id_for("mention.corrected", f"{mention.id}:{correction.at.isoformat()}"),
        )
    try:
        changed = _act(
            mention,
            {"sentiment": mention.sentiment, "label": mention.label},
            {"set__correction": correction, "set__sentiment": score, "set__label": label},
            {
                "action": "sentiment_corrected",
                "by": by,
                "label": label,
                "score": score,
                "previous_label": mention.label,
            },
        )
    except Conflict:
        if intent is not None:
            events.discard(intent)
        raise
    if intent is not None:
        events.announce(intent)
    return changed
