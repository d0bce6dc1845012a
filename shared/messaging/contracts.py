"""Every message Vínculo sends, as a frozen dataclass, inside one envelope.

Envelope (JSON, never pickle)::

    {"message_id": "...", "type": "send.requested", "schema_version": 1,
     "occurred_at": "2026-11-22T10:00:00+00:00", "correlation_id": "...",
     "producer": "campaigns", "payload": {...}}

``parse_envelope`` raises ContractError (naming the field) for anything that
is not a well-formed message of a known type and version: the consumer base
dead-letters those with that reason.

Long because: every contract between the services is declared here, in one place (STYLE.md).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import types
import typing
import uuid
from typing import Any, ClassVar


class ContractError(ValueError):
    """A message does not match its contract; the text names the field."""


EVENTS: dict[str, type[Event]] = {}


def _check(name: str, value: Any, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check(name, value, inner[0])
    if annotation is Any:
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ContractError(f"payload.{name} must be a list")
        return [_check(f"{name}[{i}]", item, args[0]) for i, item in enumerate(value)]
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise ContractError(f"payload.{name} must be an object")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ContractError(f"payload.{name} must be a number")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ContractError(f"payload.{name} must be an integer")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ContractError(f"payload.{name} must be true or false")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ContractError(f"payload.{name} must be a string")
        return value
    return value


@functools.cache
def _hints(cls) -> dict:
    """The field types of an event class (typing.get_type_hints is slow: once per class, not per message)."""
    return typing.get_type_hints(cls)


@dataclasses.dataclass(frozen=True)
class Event:
    """Base of every payload; subclasses set ``type`` and ``schema_version``."""

    type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "type" in cls.__dict__:
            EVENTS[cls.type] = cls

    def to_dict(self) -> dict:
        """The payload: a copy of the fields. Shallow (lists and dicts copied one level, a
        nested dataclass converted): ``dataclasses.asdict`` deep-copies every value, and that
        was a tenth of an import's time spent announcing its rows."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if dataclasses.is_dataclass(value):
                value = dataclasses.asdict(value)
            elif isinstance(value, (list, dict)):
                value = value.copy()
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Any):
        if not isinstance(data, dict):
            raise ContractError("payload must be an object")
        hints = _hints(cls)
        values = {}
        for field in dataclasses.fields(cls):
            if field.name not in data:
                if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                    raise ContractError(f"payload.{field.name} is required")
                continue
            values[field.name] = _check(field.name, data[field.name], hints[field.name])
        return cls(**values)


# --- segments ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CustomerCreated(Event):
    type: ClassVar[str] = "customer.created"
    customer_id: str
    external_id: str | None = None
    source: str = "api"


@dataclasses.dataclass(frozen=True)
class CustomerUpdated(Event):
    type: ClassVar[str] = "customer.updated"
    customer_id: str
    changed: list[str] = dataclasses.field(default_factory=list)
    source: str = "api"


@dataclasses.dataclass(frozen=True)
class PurchaseRecorded(Event):
    type: ClassVar[str] = "purchase.recorded"
    customer_id: str
    order_id: str
    amount: float
    currency: str
    purchased_at: str


@dataclasses.dataclass(frozen=True)
class CustomerErased(Event):
    """A profile was erased: its contacts as suppression hashes (``contact_hash``, never the
    address), so the mailer, the owner of the suppression list, keeps never writing to them."""

    type: ClassVar[str] = "customer.erased"
    customer_id: str
    email_hash: str | None = None
    phone_hash: str | None = None


@dataclasses.dataclass(frozen=True)
class SegmentEntered(Event):
    type: ClassVar[str] = "segment.entered"
    segment_id: str
    customer_id: str


@dataclasses.dataclass(frozen=True)
class SegmentLeft(Event):
    type: ClassVar[str] = "segment.left"
    segment_id: str
    customer_id: str


@dataclasses.dataclass(frozen=True)
class ConsentImported(Event):
    """A consent statement read from an import file. The mailer owns consents: it
    records the statement in its ledger (or refuses it) when it consumes this."""

    type: ClassVar[str] = "consent.imported"
    customer_id: str
    channel: str
    topic: str
    status: str  # granted, pending or revoked
    at: str  # when the customer gave or withdrew it (ISO 8601, UTC)
    import_id: str
    line: int
    origin: str | None = None  # where the consent was collected, as the file says
    wording_version: str | None = None
    ip: str | None = None
    form: str | None = None


# --- campaigns --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CampaignDue(Event):
    type: ClassVar[str] = "campaign.due"
    campaign_id: str
    fire_id: str  # unique per (campaign, fire time): the claim key
    due_at: str


@dataclasses.dataclass(frozen=True)
class SendRequested(Event):
    """A batch of recipients for one campaign step; the mailer sends each once."""

    type: ClassVar[str] = "send.requested"
    campaign_id: str
    channel: str
    topic: str
    template_id: str
    customer_ids: list[str]
    step: str = "main"
    variant: str | None = None
    marketing: bool = True
    batch: int = 0
    # "Resend to failed": only recipients whose delivery for this step failed are tried again.
    retry_failed: bool = False


# --- mailer -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DeliveryEvent(Event):
    delivery_id: str
    campaign_id: str
    customer_id: str
    channel: str
    step: str = "main"
    variant: str | None = None
    reason: str | None = None
    url: str | None = None
    # Why it was not sent, as a short code counted in results (failed, skipped):
    # no_consent, consent_pending, consent_revoked, suppressed, erased, no_address,
    # invalid_address, smtputf8_unsupported, capped, paused, provider_rejected, ...
    code: str | None = None


@dataclasses.dataclass(frozen=True)
class DeliverySent(DeliveryEvent):
    type: ClassVar[str] = "delivery.sent"
    # Additive (optional): when the provider took it (ISO 8601), for the profile's timeline;
    # the envelope's occurred_at (the announcement) when absent.
    sent_at: str | None = None


@dataclasses.dataclass(frozen=True)
class DeliveryFailed(DeliveryEvent):
    type: ClassVar[str] = "delivery.failed"


@dataclasses.dataclass(frozen=True)
class DeliverySkipped(DeliveryEvent):
    """Not sent, by rule (consent, suppression, frequency cap, ...): ``code`` says which."""

    type: ClassVar[str] = "delivery.skipped"


@dataclasses.dataclass(frozen=True)
class DeliveryBounced(DeliveryEvent):
    type: ClassVar[str] = "delivery.bounced"


@dataclasses.dataclass(frozen=True)
class DeliveryOpened(DeliveryEvent):
    type: ClassVar[str] = "delivery.opened"


@dataclasses.dataclass(frozen=True)
class DeliveryClicked(DeliveryEvent):
    type: ClassVar[str] = "delivery.clicked"


@dataclasses.dataclass(frozen=True)
class ContactSuppressed(Event):
    """The mailer stopped writing to a customer's contact (a hard bounce, a complaint):
    segments, the owner of the profile, mirrors it as ``suppression.<flag>`` for its rules."""

    type: ClassVar[str] = "contact.suppressed"
    customer_id: str
    channel: str
    flag: str  # bounced | complained
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class ConsentChanged(Event):
    type: ClassVar[str] = "consent.changed"
    customer_id: str
    channel: str
    topic: str
    status: str
    source: str
    # Additive (optional): the campaign whose unsubscribe link was used, so
    # campaigns can count unsubscribes per campaign.
    campaign_id: str | None = None


# --- listener ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MentionReceived(Event):
    type: ClassVar[str] = "mention.received"
    mention_id: str
    query_id: str
    source: str
    post_id: str
    author_handle: str
    lang: str
    sentiment: float
    label: str
    posted_at: str
    customer_id: str | None = None
    # Additive (optional), for the linked customer's timeline: the post's address and
    # the start of its text (500 characters).
    url: str | None = None
    summary: str | None = None


@dataclasses.dataclass(frozen=True)
class MentionCorrected(Event):
    """A community manager corrected a linked mention's sentiment: the timeline says so."""

    type: ClassVar[str] = "mention.corrected"
    mention_id: str
    source: str
    post_id: str
    customer_id: str
    sentiment: float
    label: str


@dataclasses.dataclass(frozen=True)
class AlertRaised(Event):
    type: ClassVar[str] = "alert.raised"
    alert_id: str
    query_id: str
    negative_count: int
    negative_share: float
    baseline_share: float
    window_start: str
    window_end: str


# --- envelope ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Envelope:
    message_id: str
    type: str
    schema_version: int
    occurred_at: str
    producer: str
    payload: dict
    correlation_id: str | None = None

    def event(self) -> Event:
        return EVENTS[self.type].from_dict(self.payload)

    def to_json(self) -> str:
        # json.dumps only reads: no copy of the payload first (dataclasses.asdict would deep-copy it).
        return json.dumps(
            {f.name: getattr(self, f.name) for f in dataclasses.fields(self)},
            ensure_ascii=False,
            separators=(",", ":"),
        )


def envelope_for(
    event: Event,
    producer: str,
    correlation_id: str | None = None,
    message_id: str | None = None,
    occurred_at: datetime.datetime | None = None,
) -> Envelope:
    """``occurred_at``: when the fact happened (naive means UTC), else now."""
    at = occurred_at or datetime.datetime.now(datetime.UTC)
    if at.tzinfo is None:
        at = at.replace(tzinfo=datetime.UTC)
    return Envelope(
        message_id=message_id or uuid.uuid4().hex,
        type=event.type,
        schema_version=event.schema_version,
        occurred_at=at.isoformat(),
        producer=producer,
        payload=event.to_dict(),
        correlation_id=correlation_id,
    )


def parse_envelope(body: bytes | str | dict) -> Envelope:
    """Bytes off the wire -> Envelope with a validated payload, or ContractError."""
    if isinstance(body, (bytes, bytearray)):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ContractError("body is not UTF-8") from None
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except json.JSONDecodeError as exc:
            raise ContractError(f"body is not JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(body, dict):
        raise ContractError("body must be a JSON object")
    for name, kind in (
        ("message_id", str),
        ("type", str),
        ("schema_version", int),
        ("occurred_at", str),
        ("payload", dict),
    ):
        if name not in body:
            raise ContractError(f"{name} is required")
        if not isinstance(body[name], kind) or isinstance(body[name], bool):
            raise ContractError(f"{name} must be of type {kind.__name__}")
    event_cls = EVENTS.get(body["type"])
    if event_cls is None:
        raise ContractError(f"type {body['type']!r} is not a known message type")
    if body["schema_version"] != event_cls.schema_version:
        raise ContractError(
            f"schema_version {body['schema_version']} of {body['type']} is not supported "
            f"(expected {event_cls.schema_version})"
        )
    try:
        datetime.datetime.fromisoformat(body["occurred_at"])
    except ValueError:
        raise ContractError("occurred_at is not an ISO 8601 time") from None
    event_cls.from_dict(body["payload"])
    return Envelope(
        message_id=body["message_id"],
        type=body["type"],
        schema_version=body["schema_version"],
        occurred_at=body["occurred_at"],
        producer=str(body.get("producer", "")),
        payload=body["payload"],
        correlation_id=body.get("correlation_id"),
    )
