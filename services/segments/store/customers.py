"""Customer profiles in the store: reads and writes of the segments service."""

from __future__ import annotations

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.http.paging import page
from shared.models import ConsentState, Customer, Interaction, SuppressedContact


def _customers():
    return Customer._get_collection()


def find_customer(customer_id: ObjectId, fields: dict | None = None) -> dict | None:
    return _customers().find_one({"_id": customer_id}, fields)


def customer_exists(customer_id: ObjectId) -> bool:
    return Customer.objects(id=customer_id).only("id").first() is not None


def customers_by_ids(ids: list) -> dict:
    """Customer id -> profile, for the ids that exist."""
    return {doc["_id"]: doc for doc in _customers().find({"_id": {"$in": ids}})}


def customer_id_with(field: str, value) -> ObjectId | None:
    """The customer holding this value of a unique field (external_id, email), if any."""
    other = _customers().find_one({field: value}, {"_id": 1})
    return other["_id"] if other else None


def erased_contact_exists(digest: str) -> bool:
    """Whether an erased profile had a contact of this hash (its tombstone keeps it)."""
    return _customers().find_one({"erased_contacts": digest}, {"_id": 1}) is not None


def erased_among(ids: list) -> set:
    """Which of ``ids`` are erased customers (one query)."""
    return {row["_id"] for row in _customers().find({"_id": {"$in": ids}, "erased": True}, {"_id": 1})}


def insert_customer(doc: dict) -> bool:
    """False when a unique field (email, external id) is taken."""
    try:
        _customers().insert_one(doc)
    except DuplicateKeyError:
        return False
    return True


def update_customer(customer_id: ObjectId, change: dict) -> bool:
    """Apply an update; False when it would take a unique field another customer holds."""
    try:
        _customers().update_one({"_id": customer_id}, change)
    except DuplicateKeyError:
        return False
    return True


def erase_customer(customer_id: ObjectId, hashes: list[str], personal: tuple[str, ...], now) -> None:
    """Leave a tombstone: personal fields gone, the contacts' hashes kept."""
    _customers().update_one(
        {"_id": customer_id},
        {
            "$set": {"erased": True, "erased_contacts": hashes, "updated_at": now, "tags": [], "facts": {}},
            "$unset": {field: "" for field in personal},
        },
    )


def page_customers(query: dict, limit: int, after: ObjectId | None):
    """(rows, total, next cursor) of the customers ``query`` selects, in ``_id`` order."""
    return page(_customers(), query, limit, after)


def located_customers(city_prefix_regex: str, limit: int):
    """Customers with a location whose folded city starts as given (place search)."""
    return _customers().find(
        {
            "erased": {"$ne": True},
            "city_key": {"$regex": city_prefix_regex},
            "location": {"$exists": True, "$ne": None},
        },
        {"city": 1, "city_key": 1, "country": 1, "location": 1},
        limit=limit,
    )


def matching_customer_ids(query: dict, max_time_ms: int) -> set:
    return {row["_id"] for row in _customers().find(query, {"_id": 1}, max_time_ms=max_time_ms)}


def matching_customer_ids_after(query: dict, after, limit: int, max_time_ms: int) -> list:
    """The next ``limit`` ids ``query`` selects after ``after``, ascending."""
    paged = query if after is None else {"$and": [query, {"_id": {"$gt": after}}]}
    return [
        row["_id"]
        for row in _customers().find(paged, {"_id": 1}, max_time_ms=max_time_ms).sort("_id", 1).limit(limit)
    ]


def sample_and_count(query: dict, sample: int, max_time_ms: int) -> tuple[list, int]:
    """The first ``sample`` customers a rule's query selects and how many it selects
    (pymongo's ExecutionTimeout past ``max_time_ms``)."""
    collection = _customers()
    rows = (
        list(collection.find(query, max_time_ms=max_time_ms).sort("_id", 1).limit(sample)) if sample else []
    )
    return rows, collection.count_documents(query, maxTimeMS=max_time_ms)


def find_customers(query: dict, fields: dict | None = None) -> list:
    return list(_customers().find(query, fields))


def purchases_summary(customer_id: ObjectId) -> dict | None:
    return _customers().find_one({"_id": customer_id}, {"purchases": 1})["purchases"]


# --- facts and mirrors of other services' events -------------------------------


def facts_of(customer_id: ObjectId) -> dict | None:
    """The customer's facts and purchases summary (None: no such customer)."""
    return _customers().find_one({"_id": customer_id}, {"facts": 1, "purchases": 1})


def set_facts(customer_id: ObjectId, version: int | None, update: dict) -> bool:
    """Compare-and-set on the facts' version; False when another writer moved it."""
    guard = {"facts.v": version} if version is not None else {"facts.v": {"$exists": False}}
    return bool(_customers().update_one({"$and": [{"_id": customer_id}, guard]}, update).matched_count)


def set_consent(customer_id: ObjectId, path: str, status: str, at) -> bool:
    """Mirror a consent status unless a newer one is there; False when nothing matched."""
    updated = _customers().update_one(
        {
            "_id": customer_id,
            "$or": [
                {f"facts.consent_at.{path}": {"$lt": at}},
                {f"facts.consent_at.{path}": {"$exists": False}},
            ],
        },
        {"$set": {f"consent.{path}": status, f"facts.consent_at.{path}": at}},
    )
    return updated.matched_count > 0


def flag_suppression(customer_id: ObjectId, flag: str, reason: str, at) -> bool:
    """Set ``suppression.<flag>`` and, when newer, the reason and time; False: no such customer."""
    collection = _customers()
    found = collection.update_one({"_id": customer_id}, {"$set": {f"suppression.{flag}": True}})
    if found.matched_count == 0:
        return False
    collection.update_one(
        {
            "_id": customer_id,
            "$or": [
                {"suppression.at": {"$lt": at}},
                {"suppression.at": {"$exists": False}},
                {"suppression.at": None},
            ],
        },
        {"$set": {"suppression.reason": reason, "suppression.at": at}},
    )
    return True


# --- interactions and consents (the 360 view) -----------------------------------


def has_interaction(key: str, customer_id: ObjectId) -> bool:
    return bool(Interaction.objects(key=key, customer_id=customer_id).count())


def add_interaction(**fields) -> ObjectId:
    """Store an interaction unique by ``key``; the customer the key belongs to (on a replay,
    or another customer's key, the one stored)."""
    try:
        Interaction(**fields).save()
    except Exception as exc:  # noqa: BLE001 - NotUniqueError: a replay, or another customer's key
        existing = Interaction.objects(key=fields["key"]).first()
        if existing is None:
            raise exc
        return existing.customer_id
    return fields["customer_id"]


def latest_interactions(customer_id: ObjectId, limit: int) -> list:
    return list(Interaction.objects(customer_id=customer_id).order_by("-at").limit(limit))


def consents_of(customer_id: ObjectId) -> list:
    return list(ConsentState.objects(customer_id=customer_id).order_by("channel", "topic"))


# --- imports: a batch's people in a handful of round trips ----------------------


def customers_by_keys(keys: dict[str, list]) -> dict:
    """Customer id -> profile for every value of each key (external_id, email, phone).

    One indexed ``$in`` per key rather than one ``$or``: the stand-in scans for the ``$or``."""
    found: dict = {}
    for key, values in keys.items():
        if values:
            for doc in _customers().find({key: {"$in": values}}):
                found.setdefault(doc["_id"], doc)
    return found


def suppressed_hashes(hashes: list[str]) -> dict[str, str]:
    """Contact hash -> reason, for the hashes on the suppression list or of an erased profile
    (erased here but not yet on the mailer's list: customer.erased on its way)."""
    found = {
        d["hash"]: d["reason"]
        for d in SuppressedContact._get_collection().find({"hash": {"$in": hashes}}, {"hash": 1, "reason": 1})
    }
    for tombstone in _customers().find({"erased_contacts": {"$in": hashes}}, {"erased_contacts": 1}):
        for digest in tombstone.get("erased_contacts") or []:
            found.setdefault(digest, "erased")
    return found


def _duplicates(exc: BulkWriteError) -> set[int]:
    """The indexes of the writes refused as duplicates; any other error is raised again."""
    failed = set()
    for error in exc.details.get("writeErrors", []):
        if error.get("code") != 11000:
            raise exc
        failed.add(error["index"])
    return failed


def insert_customers(docs: list[dict]) -> set[int]:
    """Insert profiles, unordered; the indexes of those refused as duplicates."""
    try:
        _customers().insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        return _duplicates(exc)
    return set()


def set_customers_fields(updates: list[tuple[ObjectId, dict]]) -> set[int]:
    """``$set`` each customer's fields, unordered; the indexes of those refused as duplicates."""
    try:
        _customers().bulk_write(
            [UpdateOne({"_id": cid}, {"$set": fields}) for cid, fields in updates], ordered=False
        )
    except BulkWriteError as exc:
        return _duplicates(exc)
    return set()
