"""Profile writes as the API does them: create, update, erase, record a
purchase; each announces itself through an outbox intent written before the
store write (``shared.messaging.outbox``)."""

from __future__ import annotations

import datetime

from bson import ObjectId

from services.segments import facts, profiles
from services.segments.errors import InvalidFields, WriteError
from services.segments.events import ERASURE_KIND
from services.segments.store import customers as store
from services.segments.store import segments as segment_store
from services.segments.store import timeline as timeline_store
from shared import faults
from shared.errors import NotFound
from shared.logs import get_correlation_id
from shared.messaging.contracts import (
    CustomerCreated,
    CustomerErased,
    CustomerUpdated,
    PurchaseRecorded,
    envelope_for,
)
from shared.models import SuppressedContact, contact_hash
from shared.store import utcnow


def values_of(data: dict, default_country: str) -> dict:
    """Normalise what the request schema let through; InvalidFields naming every bad field."""
    data = dict(data)
    if "location" in data and data["location"] is not None:
        data["location"] = [data["location"]["lng"], data["location"]["lat"]]
    values, errors = profiles.normalise(data, default_country)
    if errors:
        raise InvalidFields({field: [reason] for field, reason in errors.items()})
    return values


def require_identifier(doc: dict) -> None:
    """A customer needs an external_id, email or phone (422 naming the three)."""
    if not profiles.identified(doc):
        fields = {
            field: ["a customer needs an external_id, email or phone"] for field in profiles.IDENTIFIERS
        }
        raise InvalidFields(fields, message="Invalid json: a customer needs an external_id, email or phone")


def load(customer_id: ObjectId, raw_id: str, erased: bool = False) -> dict:
    """The stored customer; an erased one is not found (its tombstone only answers a repeated erase)."""
    doc = store.find_customer(customer_id)
    if doc is None or (doc.get("erased") and not erased):
        raise NotFound("customer", raw_id)
    return doc


def purchases_summary(customer_id: ObjectId) -> dict:
    """The customer's purchase count, total and last time."""
    return store.purchases_summary(customer_id)


def erased_contact(kind: str, value: str) -> bool:
    """Whether an erased profile had this contact (its tombstone keeps the hash)."""
    return store.erased_contact_exists(contact_hash(kind, value))


def suppressed_field(values: dict) -> str | None:
    """The contact field of ``values`` that belongs to a suppressed (or erased) person."""
    for kind in ("email", "phone"):
        if values.get(kind) and (
            SuppressedContact.is_suppressed(kind, values[kind]) or erased_contact(kind, values[kind])
        ):
            return kind
    return None


def _duplicate_field(values: dict, customer_id: ObjectId | None = None) -> str:
    for field in ("external_id", "email"):
        if values.get(field):
            other = store.customer_id_with(field, values[field])
            if other and other != customer_id:
                return field
    return "email"


def create(parts, values: dict, source: str = "api") -> dict:
    field = suppressed_field(values)
    if field:
        raise WriteError(field, "belongs to a suppressed or erased contact and may not be added again")
    doc = profiles.new_document(values)
    doc.setdefault("_id", ObjectId())  # the id the intent announces, before the insert
    intent = parts.outbox.intend(
        CustomerCreated(customer_id=str(doc["_id"]), external_id=doc.get("external_id"), source=source)
    )
    if not store.insert_customer(doc):
        field = _duplicate_field(values)
        raise WriteError(field, f"another customer already has this {field}")
    parts.outbox.announce(intent)
    return doc


def update(parts, existing: dict, values: dict, source: str = "api") -> tuple[dict, list[str]]:
    if existing.get("erased"):
        raise WriteError("id", "this customer was erased")
    field = suppressed_field({k: v for k, v in values.items() if v != existing.get(k)})
    if field:
        raise WriteError(field, "belongs to a suppressed or erased contact")
    change = profiles.merge_changes(existing, values, replace_empty=True)
    if not change:
        return existing, []
    intent = parts.outbox.intend(
        CustomerUpdated(
            customer_id=str(existing["_id"]), changed=profiles.changed_fields(change), source=source
        ),
        since=change["$set"]["updated_at"],
    )
    if not store.update_customer(existing["_id"], change):
        field = _duplicate_field(values, existing["_id"])
        raise WriteError(field, f"another customer already has this {field}")
    changed = profiles.changed_fields(change)
    parts.outbox.announce(intent)
    return store.find_customer(existing["_id"]), changed


PERSONAL = (
    "external_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "name_key",
    "last_name_key",
    "city",
    "city_key",
    "location",
    "social",
    "social_keys",
    "attributes",
)


def erase(parts, existing: dict) -> None:
    """Right to erasure: personal data removed, contacts kept only as suppression hashes,
    memberships ended. The document stays (as a tombstone) so other services'
    references to the id resolve to "erased".

    The suppression list is the mailer's: ``customer.erased`` carries the contacts' hashes
    (never the addresses) and the mailer's worker adds them to it (the outbox keeps the
    event while the broker is down)."""
    hashes = {kind: contact_hash(kind, existing[kind]) for kind in ("email", "phone") if existing.get(kind)}
    # Both announcements are in the intent: a process killed after the erasure leaves them to the
    # relay (a repeated erasure finds the customer erased and announces nothing).
    correlation_id = get_correlation_id()
    producer = parts.outbox.producer
    updated = envelope_for(
        CustomerUpdated(customer_id=str(existing["_id"]), changed=["erased"], source="api"),
        producer,
        correlation_id,
    )
    # the same id however often the erasure is announced, so the mailer adds the hashes once
    erased = envelope_for(
        CustomerErased(
            customer_id=str(existing["_id"]), email_hash=hashes.get("email"), phone_hash=hashes.get("phone")
        ),
        producer,
        correlation_id,
        f"erased-{existing['_id']}",
    )
    intent = parts.outbox.record(ERASURE_KIND, [updated, erased])
    # The timeline first: killed after it, the customer is not yet erased and a repeated erasure
    # does it all again; killed after the tombstone, nothing of the person is left in either.
    timeline_store.forget(existing["_id"])
    store.erase_customer(existing["_id"], list(hashes.values()), PERSONAL, utcnow())
    faults.point("after_erase")
    parts.outbox.publish_envelopes([erased])
    from services.segments.membership import Membership

    membership = Membership(parts)
    membership.apply(
        [
            (segment_id, existing["_id"], "left")
            for segment_id in segment_store.segment_ids_of(existing["_id"])
        ]
    )
    parts.outbox.announce(intent, [updated])


def record_purchase(
    parts,
    customer: dict,
    order_id: str,
    amount: float,
    currency: str,
    at: datetime.datetime,
    summary: str | None = None,
) -> bool:
    """Interaction + summary + facts, once per order id; True when it was new."""
    key = f"purchase:{order_id}"
    # One id per order: an intent left by an interrupted try and this one's are the same message.
    intent = parts.outbox.intend(
        PurchaseRecorded(
            customer_id=str(customer["_id"]),
            order_id=order_id,
            amount=float(amount),
            currency=currency,
            purchased_at=at.replace(tzinfo=datetime.UTC).isoformat(),
        ),
        message_id=f"purchase-{order_id}",
    )
    owner = store.add_interaction(
        customer_id=customer["_id"],
        kind="purchase",
        key=key,
        at=at,
        amount=amount,
        currency=currency,
        summary=summary,
        channel="store",
        data={"order_id": order_id},
    )
    if owner != customer["_id"]:
        raise WriteError("order_id", "this order is recorded for another customer")
    # Applied once even when the interaction was stored by an earlier, interrupted try.
    if not facts.add_purchase(customer["_id"], order_id, at, float(amount), currency):
        parts.outbox.discard(intent)
        return False
    parts.outbox.announce(intent)
    return True
