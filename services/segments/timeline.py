"""The profile's timeline, fed by the other services' events: segments owns ``interactions``
(with the profile); the listener and the mailer announce their facts and the
``segments.facts`` consumer appends one entry per fact, keyed so that a redelivered
event adds nothing (``mention:<source>:<post>``, ``delivery:<id>:<what>``,
``consent:<entry>``; purchases are written by segments itself, ``purchase:<order>``).

``record(envelopes)`` is the batch's whole timeline work: one ``insert_many`` for the
new entries, and one update per corrected mention.
"""

from __future__ import annotations

import datetime

from bson import ObjectId
from bson.errors import InvalidId

from services.segments.store import customers as customer_store
from services.segments.store import timeline as store
from shared.messaging.consumer import Poison
from shared.messaging.contracts import Envelope
from shared.store import to_utc_naive

DELIVERY_KINDS = {
    "delivery.sent": ("sent", "message_sent"),
    "delivery.opened": ("opened", "message_opened"),
    "delivery.clicked": ("clicked", "message_clicked"),
    "delivery.bounced": ("bounced", "message_bounced"),
}


def _customer(raw) -> ObjectId:
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        raise Poison(f"customer_id {raw!r} is not a customer id") from None


def _time(raw: str, field: str) -> datetime.datetime:
    try:
        return to_utc_naive(datetime.datetime.fromisoformat(raw))
    except (ValueError, TypeError):
        raise Poison(f"{field} {raw!r} is not an ISO 8601 time") from None


def _present(data: dict) -> dict:
    return {k: v for k, v in data.items() if v}


def _mention(envelope: Envelope, p: dict) -> dict | None:
    if not p.get("customer_id"):
        return None
    return {
        "customer_id": _customer(p["customer_id"]),
        "kind": "mention",
        "at": _time(p["posted_at"], "posted_at"),
        "key": f"mention:{p['source']}:{p['post_id']}",
        "channel": p["source"],
        "sentiment": p["sentiment"],
        "summary": (p.get("summary") or "")[:500],
        "data": {"mention_id": p["mention_id"], "url": p.get("url"), "label": p["label"]},
    }


def _delivery(envelope: Envelope, p: dict) -> dict:
    what, kind = DELIVERY_KINDS[envelope.type]
    at = p.get("sent_at") if what == "sent" else None
    data = {"delivery_id": p["delivery_id"]}
    data.update(
        {"step": p.get("step")}
        if what == "sent"
        else _present({"url": p.get("url"), "reason": p.get("reason")})
    )
    return {
        "customer_id": _customer(p["customer_id"]),
        "kind": kind,
        "at": _time(at or envelope.occurred_at, "sent_at" if at else "occurred_at"),
        "key": f"delivery:{p['delivery_id']}:{what}",
        "channel": p["channel"],
        "campaign_id": p["campaign_id"],
        "data": data,
    }


def _consent(envelope: Envelope, p: dict) -> dict:
    # The mailer names a change's message for its ledger entry (``consent-<entry id>``).
    entry_id = envelope.message_id.removeprefix("consent-")
    return {
        "customer_id": _customer(p["customer_id"]),
        "kind": "consent_changed",
        "at": _time(envelope.occurred_at, "occurred_at"),
        "key": f"consent:{entry_id}",
        "channel": p["channel"],
        "summary": f"{p['channel']}/{p['topic']}: {p['status']} ({p['source']})",
        "data": {"topic": p["topic"], "status": p["status"], "source": p["source"], "entry_id": entry_id},
    }


ENTRIES = {
    "mention.received": _mention,
    "consent.changed": _consent,
    **dict.fromkeys(DELIVERY_KINDS, _delivery),
}


def entries(envelopes: list[Envelope]) -> tuple[list[dict], list[tuple[str, float]]]:
    """(new timeline entries, (key, corrected sentiment) of corrected mentions) of a batch.
    Raises Poison for an event naming no customer id or no time: nothing is written then."""
    new, corrected = [], []
    for envelope in envelopes:
        p = envelope.payload
        if envelope.type == "mention.corrected":
            _customer(p["customer_id"])
            corrected.append((f"mention:{p['source']}:{p['post_id']}", p["sentiment"]))
        elif (build := ENTRIES.get(envelope.type)) is not None and (entry := build(envelope, p)):
            new.append(entry)
    return new, corrected


def _quoting(entry: dict) -> bool:
    return entry["kind"] not in store.KEEPS_SUMMARY and bool(
        entry.get("summary") or entry["data"].get("url") or entry["data"].get("reason")
    )


def without_the_erased(new: list[dict]) -> list[dict]:
    """``new`` with nothing quoted of a customer erased while the fact was on its way (a bounce's
    diagnostic reaching segments after the erasure): what the erasure took, a late event does not
    bring back. One query, only for a batch with entries that quote someone."""
    quoting = [entry for entry in new if _quoting(entry)]
    if not quoting:
        return new
    erased = customer_store.erased_among(list({entry["customer_id"] for entry in quoting}))
    for entry in quoting:
        if entry["customer_id"] in erased:
            entry.pop("summary", None)
            entry["data"] = {
                k: v for k, v in entry["data"].items() if f"data.{k}" not in store.PERSONAL_IN_ENTRIES
            }
    return new


def record(envelopes: list[Envelope]) -> None:
    """Append the batch's timeline entries (one insert_many) and apply its corrections."""
    new, corrected = entries(envelopes)
    store.append_entries(without_the_erased(new))
    for key, score in corrected:
        store.set_sentiment(key, score)
