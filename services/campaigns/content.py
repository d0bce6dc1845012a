"""What each recipient gets: A/B group and variant by a hash of the customer
id (deterministic, so a resumed fan-out assigns the same variant), and the
template for a step and variant."""

from __future__ import annotations

import hashlib


def share(campaign_id: str, customer_id: str, salt: str) -> float:
    """A stable number in [0, 100) for this customer in this campaign."""
    digest = hashlib.sha256(f"{campaign_id}:{salt}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def assign(campaign: dict, customer_id: str) -> tuple[str, str | None]:
    """(group, variant): group is "all" (no A/B), "test" (gets a variant) or "rest" (gets the winner)."""
    variants = campaign.get("variants") or []
    if not variants:
        return "all", None
    cid = str(campaign["_id"])
    ab = campaign.get("ab_test")
    group = "test"
    if ab and share(cid, customer_id, "test") >= ab["test_share"]:
        return "rest", None
    point, cumulative = share(cid, customer_id, "variant"), 0.0
    for variant in variants:
        cumulative += variant["split"]
        if point < cumulative:
            return group, variant["name"]
    return group, variants[-1]["name"]


def template_for(campaign: dict, step: str = "main", variant: str | None = None) -> str | None:
    journey = campaign.get("journey")
    if journey:
        base = step.split("@", 1)[0]
        return next((s["template_id"] for s in journey["steps"] if s["id"] == base), None)
    if variant:
        return next((v["template_id"] for v in campaign.get("variants") or [] if v["name"] == variant), None)
    return campaign.get("template_id")


def is_marketing(campaign: dict) -> bool:
    """Service messages (topic "service") are not marketing: no frequency caps or quiet hours."""
    return campaign["topic"] != "service"
