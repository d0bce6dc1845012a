"""The preference center's queries: delivery preferences (pause, frequency), the
audit log, the public pages' rate-limit windows, the customer a link or an
address names, what "my data" exports and what an erasure suppresses, and the
two lookups an unsubscribe by token makes.

The customer profile is read here, never written: segments owns Customer, and
the center changes it through the segments API (``prefcenter.Segments``).
"""

from __future__ import annotations

import datetime

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from services.mailer.models import Delivery
from services.mailer.prefs_models import AuditEntry, Preference, PublicHit
from shared.models import ConsentEntry, ConsentState, Customer, SuppressedContact, contact_hash
from shared.store import utcnow

# --- rate-limit windows and the audit log -----------------------------------------------------------


def count_hit(key: str, window: int, expires_at: datetime.datetime) -> int | None:
    """One more request for ``key`` in ``window``: the window's count, None if it could not be counted."""
    collection = PublicHit._get_collection()
    for _ in range(2):  # a concurrent first upsert loses on the unique key: retry as an update
        try:
            doc = collection.find_one_and_update(
                {"key": key, "window": window},
                {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": expires_at}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            return doc["count"]
        except DuplicateKeyError:
            continue
    return None


def add_audit(customer_id: ObjectId | None, action: str, ip: str | None, detail: dict) -> None:
    AuditEntry(customer_id=customer_id, action=action, detail=detail, ip=ip).save()


# --- customers (read only) ---------------------------------------------------------------------------


def find_live_customer_by_email(address: str) -> dict | None:
    """The customer with this (normalised) address, unless erased."""
    return Customer._get_collection().find_one({"email": address, "erased": {"$ne": True}})


def find_customer(customer_id: ObjectId) -> dict | None:
    return Customer._get_collection().find_one({"_id": customer_id})


def customer_contacts(customer_id: ObjectId) -> dict | None:
    """Address, phone and locale of a customer (None: no such customer, or erased)."""
    found = Customer._get_collection().find_one(
        {"_id": customer_id}, {"email": 1, "phone": 1, "locale": 1, "erased": 1}
    )
    return None if found is None or found.get("erased") else found


def campaign_of_delivery(delivery_id: ObjectId) -> str | None:
    found = Delivery._get_collection().find_one({"_id": delivery_id}, {"campaign_id": 1})
    return found["campaign_id"] if found else None


# --- preferences -------------------------------------------------------------------------------------


def preference_of(customer_id: ObjectId) -> dict:
    """The customer's pause and frequency ({} when never set)."""
    return Preference._get_collection().find_one({"customer_id": customer_id}) or {}


def save_preference(customer_id: ObjectId, update: dict) -> None:
    Preference._get_collection().update_one(
        {"customer_id": customer_id},
        {"$set": {**update, "updated_at": utcnow()}, "$setOnInsert": {"customer_id": customer_id}},
        upsert=True,
    )


def delete_preference(customer_id: ObjectId) -> None:
    Preference._get_collection().delete_one({"customer_id": customer_id})


def delete_preferences(customer_ids: list) -> None:
    """Erased customers' preferences (one ``delete_many``)."""
    Preference._get_collection().delete_many({"customer_id": {"$in": customer_ids}})


# --- my data -----------------------------------------------------------------------------------------


def data_of(customer_id: ObjectId) -> dict:
    """What the mailer holds about a customer: consents, their history, preferences (the timeline is
    segments', asked through its API: ``prefcenter.Segments.interactions_of``)."""
    return {
        "consents": list(ConsentState._get_collection().find({"customer_id": customer_id})),
        "consent_history": list(
            ConsentEntry._get_collection().find({"customer_id": customer_id}).sort("_id", 1)
        ),
        "preferences": Preference._get_collection().find_one({"customer_id": customer_id}, {"_id": 0}),
    }


def suppress_erased(kind: str, value: str) -> None:
    """Keep an erased customer's contact only as a hash on the suppression list."""
    SuppressedContact._get_collection().update_one(
        {"hash": contact_hash(kind, value)},
        {"$setOnInsert": {"kind": kind, "reason": "erased", "at": utcnow()}},
        upsert=True,
    )
