"""Delivery facts (one per delivery and event type) and conversions (one per campaign and order)."""

from __future__ import annotations

import datetime

from pymongo.errors import DuplicateKeyError

from services.campaigns.store.collections import conversions, facts, fields


def add_fact(fact: dict) -> bool:
    """Record a fact; False when it is counted already (its ``_id`` exists)."""
    try:
        facts().insert_one(fact)
        return True
    except DuplicateKeyError:
        return False


def forget_quotes() -> int:
    """Facts stored before they stopped quoting lose the provider's reason and the clicked
    link (one command; idempotent): how many facts changed."""
    return (
        facts()
        .update_many(
            {"$or": [{"reason": {"$exists": True}}, {"url": {"$exists": True}}]},
            {"$unset": {"reason": "", "url": ""}},
        )
        .modified_count
    )


def add_conversion(conversion: dict) -> bool:
    """Record a conversion; False when that order is credited to that campaign already."""
    try:
        conversions().insert_one(conversion)
        return True
    except DuplicateKeyError:
        return False


def first_send(campaign_id: str, customer_id: str) -> dict | None:
    """A ``sent`` fact of the campaign to the customer (variant, delivery, step), or None."""
    return facts().find_one(
        {"campaign_id": campaign_id, "customer_id": customer_id, "type": "sent"},
        {"variant": 1, "delivery_id": 1, "step": 1},
    )


def sends_to(customer_id: str, since: datetime.datetime, until: datetime.datetime) -> list[dict]:
    """The ``sent`` facts to the customer between ``since`` and ``until`` (campaign, variant, time)."""
    return list(
        facts().find(
            {"customer_id": customer_id, "type": "sent", "at": {"$gte": since, "$lte": until}},
            {"campaign_id": 1, "variant": 1, "at": 1},
        )
    )


def delivery_seen(campaign_id: str, customer_id: str, step: str, kind: str) -> bool:
    """Whether the customer's delivery of the step had a ``kind`` event (opened, clicked)."""
    seen = facts().find_one(
        {"campaign_id": campaign_id, "customer_id": customer_id, "step": step, "type": kind}, {"_id": 1}
    )
    return seen is not None


def bucket_counts(campaign_id: str) -> list[tuple[str, int]]:
    """(``<variant>|<type>``, how many facts) of the campaign."""
    return [
        (group["_id"], group["n"])
        for group in facts().aggregate(
            [{"$match": {"campaign_id": campaign_id}}, {"$group": {"_id": "$bucket", "n": {"$sum": 1}}}]
        )
    ]


def skipped_by_code(campaign_id: str) -> list[tuple[str | None, int]]:
    """(code, how many) of the campaign's skipped deliveries."""
    return [
        (group["_id"], group["n"])
        for group in facts().aggregate(
            [
                {"$match": {"campaign_id": campaign_id, "type": "skipped"}},
                {"$group": {"_id": "$code", "n": {"$sum": 1}}},
            ]
        )
    ]


def count_terminal(campaign_id: str, step: str, types: list[str]) -> int:
    return facts().count_documents({"campaign_id": campaign_id, "step": step, "type": {"$in": types}})


def failures(campaign_id: str, *only: str) -> list[dict]:
    """The campaign's failed-delivery facts (with ``delivery_id`` and the fields named)."""
    return list(facts().find({"campaign_id": campaign_id, "type": "failed"}, fields("delivery_id", *only)))


def recovered(campaign_id: str, delivery_ids: list[str]) -> set[str]:
    """Which of the deliveries were sent after all (a resend that succeeded)."""
    return {
        f["delivery_id"]
        for f in facts().find(
            {"campaign_id": campaign_id, "type": "sent", "delivery_id": {"$in": delivery_ids}},
            {"delivery_id": 1},
        )
    }


def facts_of(campaign_id: str, *only: str) -> list[dict]:
    return list(facts().find({"campaign_id": campaign_id}, fields(*only)))


def conversions_of(campaign_id: str, *only: str) -> list[dict]:
    return list(conversions().find({"campaign_id": campaign_id}, fields(*only)))
