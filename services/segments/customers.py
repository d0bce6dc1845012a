"""Profile writes as the API does them: create, update, erase, record a
purchase; each announces itself through an outbox intent written before the
store write (``shared.messaging.outbox``)."""

from __future__ import annotations

import datetime

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from services.segments import facts, profiles
from shared.messaging.contracts import CustomerCreated, CustomerErased, CustomerUpdated, PurchaseRecorded
from shared.models import Customer, Interaction, SegmentMember, SuppressedContact, contact_hash
from shared.store import utcnow


class WriteError(Exception):
    """A write the caller must hear about: (status, field, message)."""

    def __init__(self, status: int, field: str, message: str):
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


def erased_contact(kind: str, value: str) -> bool:
    """Whether an erased profile had this contact (its tombstone keeps the hash)."""
    found = Customer._get_collection().find_one({"erased_contacts": contact_hash(kind, value)}, {"_id": 1})
    return found is not None


def suppressed_field(values: dict) -> str | None:
    """The contact field of ``values`` that belongs to a suppressed (or erased) person."""
    for kind in ("email", "phone"):
        if values.get(kind) and (
            SuppressedContact.is_suppressed(kind, values[kind]) or erased_contact(kind, values[kind])
        ):
            return kind
    return None


def _duplicate_field(values: dict, customer_id: ObjectId | None = None) -> str:
    collection = Customer._get_collection()
    for field in ("external_id", "email"):
        if values.get(field):
            other = collection.find_one({field: values[field]}, {"_id": 1})
            if other and other["_id"] != customer_id:
                return field
    return "email"


def create(parts, values: dict, source: str = "api") -> dict:
    field = suppressed_field(values)
    if field:
        raise WriteError(409, field, "belongs to a suppressed or erased contact and may not be added again")
    doc = profiles.new_document(values)
    doc.setdefault("_id", ObjectId())  # the id the intent announces, before the insert
    intent = parts.outbox.intend(
        CustomerCreated(customer_id=str(doc["_id"]), external_id=doc.get("external_id"), source=source)
    )
    try:
        Customer._get_collection().insert_one(doc)
    except DuplicateKeyError:
        field = _duplicate_field(values)
        raise WriteError(409, field, f"another customer already has this {field}") from None
    parts.outbox.announce(intent)
    return doc


def update(parts, existing: dict, values: dict, source: str = "api") -> tuple[dict, list[str]]:
    if existing.get("erased"):
        raise WriteError(409, "id", "this customer was erased")
    field = suppressed_field({k: v for k, v in values.items() if v != existing.get(k)})
    if field:
        raise WriteError(409, field, "belongs to a suppressed or erased contact")
    change = profiles.merge_changes(existing, values, replace_empty=True)
    if not change:
        return existing, []
    collection = Customer._get_collection()
    intent = parts.outbox.intend(
        CustomerUpdated(
            customer_id=str(existing["_id"]), changed=profiles.changed_fields(change), source=source
        ),
        since=change["$set"]["updated_at"],
    )
    try:
        collection.update_one({"_id": existing["_id"]}, change)
    except DuplicateKeyError:
        field = _duplicate_field(values, existing["_id"])
        raise WriteError(409, field, f"another customer already has this {field}") from None
    changed = profiles.changed_fields(change)
    parts.outbox.announce(intent)
    return collection.find_one({"_id": existing["_id"]}), changed


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
    collection = Customer._get_collection()
    intent = parts.outbox.intend(
        CustomerUpdated(customer_id=str(existing["_id"]), changed=["erased"], source="api")
    )
    collection.update_one(
        {"_id": existing["_id"]},
        {
            "$set": {
                "erased": True,
                "erased_contacts": list(hashes.values()),
                "updated_at": utcnow(),
                "tags": [],
                "facts": {},
            },
            "$unset": {field: "" for field in PERSONAL},
        },
    )
    # the same id however often the erasure is asked, so the mailer adds the hashes once
    parts.outbox.publish(
        CustomerErased(
            customer_id=str(existing["_id"]), email_hash=hashes.get("email"), phone_hash=hashes.get("phone")
        ),
        f"erased-{existing['_id']}",
    )
    from services.segments.membership import Membership

    membership = Membership(parts)
    membership.apply(
        [
            (row["segment_id"], existing["_id"], "left")
            for row in SegmentMember._get_collection().find(
                {"customer_id": existing["_id"]}, {"segment_id": 1}
            )
        ]
    )
    parts.outbox.announce(intent)


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
    try:
        Interaction(
            customer_id=customer["_id"],
            kind="purchase",
            key=key,
            at=at,
            amount=amount,
            currency=currency,
            summary=summary,
            channel="store",
            data={"order_id": order_id},
        ).save()
    except Exception as exc:  # noqa: BLE001 - NotUniqueError: a replay, or another customer's order
        existing = Interaction.objects(key=key).first()
        if existing is None:
            raise exc
        if existing.customer_id != customer["_id"]:
            raise WriteError(409, "order_id", "this order is recorded for another customer") from None
    # Applied once even when the interaction was stored by an earlier, interrupted try.
    if not facts.add_purchase(customer["_id"], order_id, at, float(amount), currency):
        parts.outbox.discard(intent)
        return False
    parts.outbox.announce(intent)
    return True
