"""Consent changes: the one function that records them, and reads.

``record_change`` appends to the ledger (ConsentEntry), moves the current
state (ConsentState) forward only if this change is not older than the one
it holds and publishes ``consent.changed`` (segments, owner of the customer's
timeline, writes the ``consent_changed`` interaction from it, and mirrors the
state on the profile for segment rules). The event is announced through an outbox
intent written before the ledger entry: a process killed between the write and
the publish leaves the intent, and the relay announces the change (moving the
state forward first, in case the crash cut that step) once its entry exists. It is idempotent
by ``idempotency_key``: replaying the same form post, import row or unsubscribe
completes the missing steps of an interrupted first run and changes nothing else. The API, the unsubscribe
endpoint, bounce intake and (later) the preference center all call it. ``completed`` is its half
for a relay: a change another intent promised (a spam complaint's revocation, in the bounce
intent) written under the same key and handed back as the event to publish.
"""

from __future__ import annotations

import datetime
import uuid

from bson import ObjectId

from services.mailer.store import consents as store
from shared.errors import Invalid
from shared.messaging import outbox as outboxes
from shared.messaging.contracts import ConsentChanged, Envelope, envelope_for, parse_envelope
from shared.models import CHANNELS, CONSENT_STATUSES, TOPICS, ConsentEntry, ConsentState
from shared.store import to_utc_naive, utcnow

PRODUCER = "mailer"


class ConsentError(Invalid):
    """A consent change that breaks a rule: 422 naming the field, like a schema error."""


# How far after the server's clock a caller's ``at`` may be (their clock runs ahead).
CLOCK_SKEW = datetime.timedelta(minutes=5)


def check_not_future(at: datetime.datetime | None) -> None:
    """A consent given or withdrawn later than now is refused (ConsentError naming ``at``)."""
    if at is not None and to_utc_naive(at) > utcnow() + CLOCK_SKEW:
        raise ConsentError("at", "must not be in the future: the time the customer gave or withdrew it")


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
    key = idempotency_key or f"auto:{uuid.uuid4().hex}"
    entry = _entry(
        customer_id,
        channel,
        topic,
        status,
        source,
        key,
        at,
        ip=ip,
        wording_version=wording_version,
        note=note,
    )
    intent = events.intend(
        _changed(entry, campaign_id), f"consent-{entry.id}", occurred_at=entry.at, entry_id=entry.id
    )
    stored = store.add_entry(entry)
    # Forward only: a change older than the state's is kept in the ledger but does not win.
    store.move_state_forward(stored)
    if stored.id == entry.id:
        events.announce(intent)
        return stored
    # A replay (same idempotency key): the first run's entry, announced again under its own id
    # (consumers drop it if the first run's announcement went out).
    events.discard(intent)
    events.publish(_changed(stored, campaign_id), message_id=f"consent-{stored.id}", occurred_at=stored.at)
    return stored


def _entry(customer_id, channel, topic, status, source, key, at, **fields) -> ConsentEntry:
    """The ledger entry of a change, checked (ConsentError names the field), with its own id."""
    if channel not in CHANNELS:
        raise ConsentError("channel", f"must be one of {', '.join(CHANNELS)}")
    if topic not in TOPICS:
        raise ConsentError("topic", f"must be one of {', '.join(TOPICS)}")
    if status not in CONSENT_STATUSES:
        raise ConsentError("status", f"must be one of {', '.join(CONSENT_STATUSES)}")
    customer_id = ObjectId(customer_id)
    now = utcnow()
    # A change is never dated after it is recorded: a later one must be able to replace it (an
    # import's date-only "tomorrow" from another time zone is recorded as now).
    at = min(to_utc_naive(at), now) if at else now
    # mongo keeps milliseconds: compare what is stored, not what we hold
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    return ConsentEntry(
        id=ObjectId(),  # the id the intent announces, before the insert
        customer_id=customer_id,
        channel=channel,
        topic=topic,
        status=status,
        source=source,
        at=at,
        idempotency_key=key,
        **fields,
    )


def completed(
    customer_id,
    channel: str,
    topic: str,
    status: str,
    source: str,
    *,
    idempotency_key: str,
    at: datetime.datetime,
    note: str | None = None,
    correlation_id: str | None = None,
) -> Envelope:
    """A change a stopped process was about to record, completed by the relay resolving that
    process's intent: the ledger entry written unless the key's is there already (one entry
    however often this runs, and whether or not the process got that far), the state moved
    forward, and the ``consent.changed`` the relay then publishes (the id the normal path uses)."""
    entry = _entry(customer_id, channel, topic, status, source, idempotency_key, at, note=note)
    stored = store.add_entry(entry)
    store.move_state_forward(stored)
    return envelope_for(_changed(stored, None), PRODUCER, correlation_id, f"consent-{stored.id}", stored.at)


def _changed(entry: ConsentEntry, campaign_id: str | None) -> ConsentChanged:
    return ConsentChanged(
        customer_id=str(entry.customer_id),
        channel=entry.channel,
        topic=entry.topic,
        status=entry.status,
        source=entry.source,
        campaign_id=campaign_id,
    )


def _resolve(record: dict) -> list[Envelope]:
    """An intent a stopped process left: its change is a fact once its ledger entry exists; the
    state is moved forward (again: it may be the step the crash cut) before it is announced."""
    entry = store.entry(record.get("entry_id"))
    if entry is None:
        return []
    store.move_state_forward(entry)
    return [parse_envelope(text) for text in record.get("envelopes") or []]


outboxes.register(ConsentChanged.type, PRODUCER, _resolve)


def current(customer_id) -> list[ConsentState]:
    return store.states(ObjectId(customer_id))


def history(customer_id, limit: int = 50, before: ObjectId | None = None) -> tuple[list[ConsentEntry], int]:
    return store.history(ObjectId(customer_id), limit, before)


def state_map(customer_ids, channel: str, topic: str) -> dict[ObjectId, str]:
    """customer id -> current status for one channel and topic (one query for a batch)."""
    return store.state_map(list(customer_ids), channel, topic)


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
    state = store.state(customer_id, event.channel, event.topic)
    if state is not None and state.status == event.status and state.entry_id:
        # The file says what the ledger already says (a re-import): nothing to record.
        return store.entry(state.entry_id)
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
