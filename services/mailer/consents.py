"""Consent changes: the one function that records them, and reads.

``record_change`` appends to the ledger (ConsentEntry), moves the current
state (ConsentState) forward only if this change is not older than the one
it holds, writes the ``consent_changed`` interaction and publishes
``consent.changed``. It is idempotent by ``idempotency_key``: replaying the
same form post, import row or unsubscribe completes the missing steps of an
interrupted first run and changes nothing else. The API, the unsubscribe
endpoint, bounce intake and (later) the preference center all call it.
"""

from __future__ import annotations

import datetime
import uuid

import mongoengine as me
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from shared.messaging.contracts import ConsentChanged
from shared.models import CHANNELS, CONSENT_STATUSES, TOPICS, ConsentEntry, ConsentState, Interaction
from shared.store import to_utc_naive, utcnow


class ConsentError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _insert_ignoring_duplicate(document: me.Document) -> bool:
    try:
        document.save(force_insert=True)
        return True
    except (me.NotUniqueError, DuplicateKeyError):
        return False


def record_change(
    customer_id,
    channel: str,
    topic: str,
    status: str,
    source: str,
    *,
    events,
    idempotency_key: str | None = None,
    at: datetime.datetime | None = None,
    ip: str | None = None,
    wording_version: str | None = None,
    note: str | None = None,
    campaign_id: str | None = None,
) -> ConsentEntry:
    """Record one consent change (see module docstring); returns the ledger entry."""
    if channel not in CHANNELS:
        raise ConsentError("channel", f"must be one of {', '.join(CHANNELS)}")
    if topic not in TOPICS:
        raise ConsentError("topic", f"must be one of {', '.join(TOPICS)}")
    if status not in CONSENT_STATUSES:
        raise ConsentError("status", f"must be one of {', '.join(CONSENT_STATUSES)}")
    customer_id = ObjectId(customer_id)
    at = to_utc_naive(at) if at else utcnow()
    # mongo keeps milliseconds: compare what is stored, not what we hold
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    key = idempotency_key or f"auto:{uuid.uuid4().hex}"
    entry = ConsentEntry(
        customer_id=customer_id,
        channel=channel,
        topic=topic,
        status=status,
        source=source,
        at=at,
        ip=ip,
        wording_version=wording_version,
        note=note,
        idempotency_key=key,
    )
    if not _insert_ignoring_duplicate(entry):
        entry = ConsentEntry.objects(idempotency_key=key).first()
    # Forward only: a change older than the state's is kept in the ledger but does not win.
    try:
        ConsentState._get_collection().update_one(
            {
                "customer_id": entry.customer_id,
                "channel": entry.channel,
                "topic": entry.topic,
                "at": {"$lte": entry.at},
            },
            # customer_id again in $setOnInsert: the stand-in drops ObjectId equality fields
            # from an upserted document (real MongoDB copies them; repeating it is harmless).
            {
                "$set": {"status": entry.status, "at": entry.at, "entry_id": entry.id},
                "$setOnInsert": {"customer_id": entry.customer_id},
            },
            upsert=True,
        )
    except DuplicateKeyError:
        pass  # a newer state exists: the upsert found no older one to replace
    _insert_ignoring_duplicate(
        Interaction(
            customer_id=entry.customer_id,
            kind="consent_changed",
            at=entry.at,
            key=f"consent:{entry.id}",
            channel=entry.channel,
            summary=f"{entry.channel}/{entry.topic}: {entry.status} ({entry.source})",
            data={
                "topic": entry.topic,
                "status": entry.status,
                "source": entry.source,
                "entry_id": str(entry.id),
            },
        )
    )
    events.publish(
        ConsentChanged(
            customer_id=str(entry.customer_id),
            channel=entry.channel,
            topic=entry.topic,
            status=entry.status,
            source=entry.source,
            campaign_id=campaign_id,
        ),
        message_id=f"consent-{entry.id}",
        occurred_at=entry.at,
    )
    return entry


def current(customer_id) -> list[ConsentState]:
    return list(ConsentState.objects(customer_id=ObjectId(customer_id)).order_by("channel", "topic"))


def history(customer_id, limit: int = 50, before: ObjectId | None = None) -> tuple[list[ConsentEntry], int]:
    query = ConsentEntry.objects(customer_id=ObjectId(customer_id))
    total = query.count()
    if before is not None:
        query = query.filter(id__lt=before)
    return list(query.order_by("-id").limit(limit)), total


def state_map(customer_ids, channel: str, topic: str) -> dict[ObjectId, str]:
    """customer id -> current status for one channel and topic (one query for a batch)."""
    cursor = ConsentState._get_collection().find(
        {"customer_id": {"$in": list(customer_ids)}, "channel": channel, "topic": topic},
        {"customer_id": 1, "status": 1, "expires_at": 1},
    )
    return {doc["customer_id"]: doc["status"] for doc in cursor}


IMPORTED_STATUSES = ("granted", "pending", "revoked")


def record_imported(event, *, events) -> ConsentEntry:
    """Record a ``consent.imported`` statement (an import row) in the ledger.

    The segments service reads the file and announces each statement; the
    ledger is written here only. A grant or a pending request without the
    place it was collected is refused (nothing grants consent silently). The
    idempotency key is the statement itself, so re-importing the same file, or
    a redelivered message, records nothing new.
    """
    if event.status not in IMPORTED_STATUSES:
        raise ConsentError("status", f"must be one of {', '.join(IMPORTED_STATUSES)}")
    if event.status != "revoked" and not (event.origin or "").strip():
        raise ConsentError("origin", "a granted or pending consent needs the place it was collected")
    try:
        at = datetime.datetime.fromisoformat(event.at)
    except (TypeError, ValueError):
        raise ConsentError("at", "not an ISO 8601 date") from None
    try:
        customer_id = ObjectId(event.customer_id)
    except Exception:  # noqa: BLE001 - bson raises InvalidId or TypeError
        raise ConsentError("customer_id", "not an id") from None
    state = ConsentState.objects(customer_id=customer_id, channel=event.channel, topic=event.topic).first()
    if state is not None and state.status == event.status and state.entry_id:
        # The file says what the ledger already says (a re-import): nothing to record.
        return ConsentEntry.objects(id=state.entry_id).first()
    note = "; ".join(
        filter(
            None,
            (
                f"import {event.import_id} line {event.line}",
                event.origin and f"source: {event.origin}",
                event.form and f"form: {event.form}",
            ),
        )
    )[:500]
    key = f"import:{customer_id}:{event.channel}:{event.topic}:{event.status}:{at.isoformat()}"
    return record_change(
        customer_id,
        event.channel,
        event.topic,
        event.status,
        "import",
        events=events,
        idempotency_key=key[:200],
        at=at,
        ip=event.ip,
        wording_version=(event.wording_version or None) and event.wording_version[:50],
        note=note,
    )
