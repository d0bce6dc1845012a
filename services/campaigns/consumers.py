"""Campaigns worker: fan-out on campaign.due, results from delivery events,
journeys and conversions from trigger events."""

from __future__ import annotations

from services.campaigns.fanout import FanOut


def handlers(parts) -> dict:
    """``parts``: the worker's ``CampaignsParts`` (settings, outbox)."""
    from services.campaigns import journeys, results

    fanout = FanOut(parts.settings, parts.outbox)
    return {
        "campaigns.campaign.due": fanout.on_due,
        "campaigns.delivery": results.on_delivery,
        "campaigns.triggers": lambda envelope: journeys.on_trigger(envelope, parts),
        "campaigns.consent": results.on_consent,
    }
