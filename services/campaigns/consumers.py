"""Campaigns worker: fan-out on campaign.due, results from delivery events,
journeys and conversions from trigger events."""

from __future__ import annotations

from services.campaigns.fanout import FanOut


def handlers(settings, announcer) -> dict:
    from services.campaigns import journeys, results

    fanout = FanOut(settings, announcer)
    return {
        "campaigns.campaign.due": fanout.on_due,
        "campaigns.delivery": results.on_delivery,
        "campaigns.triggers": lambda envelope: journeys.on_trigger(envelope, settings, announcer),
        "campaigns.consent": results.on_consent,
    }
