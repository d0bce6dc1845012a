"""Behaviour facts kept on ``Customer.facts`` from other services' events, so
that segment rules read them with one customers filter (no join):

* ``facts.received`` / ``opened`` / ``clicked``: campaign ids (delivery.sent,
  delivery.opened, delivery.clicked), one entry per campaign, kept for the
  last ``CAMPAIGNS_KEPT`` campaigns, and ``facts.<event>_at``: the same with
  the time of the event (``{"campaign_id", "at"}``), for time windows;
* ``facts.negative_mentions``: ``{"id", "at"}`` of the last ``MENTIONS_KEPT``
  negative mentions linked to the customer;
* ``facts.purchases``: ``{"order_id", "at", "amount", "currency"}`` of the
  last ``PURCHASES_KEPT`` purchases (the all-time count and total are on
  ``Customer.purchases``).

Each change is a whole-array ``$set`` guarded by a version number
(``facts.v``): a compare-and-set that two workers cannot both win, and that
needs none of the array update operators (``$push``/``$addToSet`` on nested
paths misbehave on the store stand-in; whole-array ``$set`` is right on
MongoDB too).
"""

from __future__ import annotations

from collections.abc import Callable

from bson import ObjectId

from services.segments.rules import MENTIONS_KEPT, PURCHASES_KEPT
from services.segments.store import customers as store
from shared.messaging.consumer import Poison

CAMPAIGNS_KEPT = 500
_ATTEMPTS = 20


def mutate(
    customer_id: ObjectId, change: Callable[[dict], dict | None], extra: Callable[[dict], dict] | None = None
) -> bool:
    """Apply ``change(facts) -> {fact: new value}`` atomically; False when it changes nothing.

    ``extra(document) -> {"$inc": ..., "$set": ...}`` is merged into the same
    update (e.g. the purchases summary), so the fact and its summary move
    together or not at all.
    """
    for _ in range(_ATTEMPTS):
        doc = store.facts_of(customer_id)
        if doc is None:
            raise Poison(f"unknown customer {customer_id}")
        facts = doc.get("facts") or {}
        new = change(facts)
        if not new:
            return False
        version = facts.get("v")
        update = {
            "$set": {**{f"facts.{key}": value for key, value in new.items()}, "facts.v": (version or 0) + 1}
        }
        for op, fields in (extra(doc) if extra else {}).items():
            update.setdefault(op, {}).update(fields)
        if store.set_facts(customer_id, version, update):
            return True
    raise RuntimeError(f"facts of customer {customer_id} kept changing under us; retrying later")


def add_campaign(customer_id: ObjectId, event: str, campaign_id: str, at=None) -> bool:
    """The campaign id in ``facts.<event>`` and, with its time, in ``facts.<event>_at``
    (``{"campaign_id", "at"}``: what the campaign rule's ``within_days`` reads)."""

    def change(facts):
        current = list(facts.get(event) or [])
        if campaign_id in current:
            return None
        new = {event: (current + [campaign_id])[-CAMPAIGNS_KEPT:]}
        if at is not None:
            timed = sorted(
                list(facts.get(f"{event}_at") or []) + [{"campaign_id": campaign_id, "at": at}],
                key=lambda entry: entry["at"],
            )
            new[f"{event}_at"] = timed[-CAMPAIGNS_KEPT:]
        return new

    return mutate(customer_id, change)


def add_negative_mention(customer_id: ObjectId, mention_id: str, at) -> bool:
    def change(facts):
        current = list(facts.get("negative_mentions") or [])
        if any(m.get("id") == mention_id for m in current):
            return None
        kept = sorted(current + [{"id": mention_id, "at": at}], key=lambda m: m["at"])
        return {"negative_mentions": kept[-MENTIONS_KEPT:]}

    return mutate(customer_id, change)


def add_purchase(customer_id: ObjectId, order_id: str, at, amount: float, currency: str) -> bool:
    """Record the purchase in facts and the summary, once per order id."""

    def change(facts):
        current = list(facts.get("purchases") or [])
        if any(p.get("order_id") == order_id for p in current):
            return None
        kept = sorted(
            current + [{"order_id": order_id, "at": at, "amount": amount, "currency": currency}],
            key=lambda p: p["at"],
        )
        return {"purchases": kept[-PURCHASES_KEPT:]}

    def summary(doc):
        # Absolute values, not $inc: the facts version guard already makes this
        # a compare-and-set, and $inc on a dotted path beside a datetime $set
        # writes a stray top-level key on the store stand-in.
        current = doc.get("purchases") or {}
        last = current.get("last_at")
        return {
            "$set": {
                "purchases.count": int(current.get("count") or 0) + 1,
                "purchases.total": round(float(current.get("total") or 0) + amount, 2),
                "purchases.last_at": at if last is None or at > last else last,
            }
        }

    return mutate(customer_id, change, summary)
