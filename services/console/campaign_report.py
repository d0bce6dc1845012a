"""What a campaign's page shows around the campaign itself.

``result_charts`` draws its results (over time, per A/B variant, revenue and
cost); ``audience`` asks the mailer how many of the segment it would reach
before it is sent, and why not the others; ``referred_names`` names the
segment and templates it refers to; ``REASONS`` says in words why a delivery
was not (yet) sent. The routes are services/console/views/campaigns.py.
"""

from __future__ import annotations

from services.console import charts
from services.console.client import ApiFailure, ServiceUnavailable, api
from services.console.i18n import gettext as _

# Why a delivery was not (yet) sent, as the mailer records it: code -> what a marketer reads.
REASONS = {
    "no_consent": "no consent for this topic",
    "consent_pending": "double opt-in not confirmed yet",
    "consent_revoked": "consent revoked",
    "suppressed": "suppressed (bounce, complaint or do-not-contact)",
    "erased": "erased",
    "no_address": "no address for this channel",
    "invalid_address": "invalid address",
    "smtputf8_unsupported": "the mail relay cannot send to an international address",
    "quiet_hours": "in quiet hours (sent when they end)",
    "capped": "frequency cap reached",
    "paused": "paused their marketing mail",
    "provider_rejected": "rejected by the provider",
    "provider_unavailable": "the provider did not answer",
    "build_error": "the message could not be built",
    "template_error": "the template could not be rendered",
    "abandoned": "no outcome after every attempt",
    "unknown_customer": "customer not found",
    "not_transactional_topic": "not a transactional topic",
}


def result_charts(results: dict, timeline: dict, labels: dict[str, str] | None = None) -> dict:
    out = {}
    points = timeline.get("points") or []
    if points:
        labels = [p.get("at", p.get("bucket", ""))[5:16].replace("T", " ") for p in points]
        keys = ("sent", "opened", "clicked")  # the timeline counts sends, not deliveries
        out["timeline"] = charts.line_chart(
            labels,
            {k: [p.get(k, 0) for p in points] for k in keys},
            _("Over time"),
            {k: _(k.capitalize()) for k in keys},
        )
    variants = results.get("variants") or []
    if variants:
        keys = ("sent", "opened", "clicked")
        out["variants"] = charts.bar_chart(
            [(labels or {}).get(v["variant"], v["variant"]) for v in variants],
            {k: [v.get(k, 0) for v in variants] for k in keys},
            _("Per variant"),
            {k: _(k.capitalize()) for k in keys},
        )
    if results.get("cost") is not None or results.get("revenue"):
        out["money"] = charts.bar_chart(
            [_("Revenue"), _("Cost")],
            {"amount": [results.get("revenue") or 0, results.get("cost") or 0]},
            _("Revenue and cost"),
            {"amount": results.get("currency") or ""},
        )
    return out


def audience(campaign: dict) -> dict | None:
    """Before it is sent: how many of the segment the campaign would reach, and why not the others
    (the mailer's reachability, computed by the send-time rules). None after, or when unavailable."""
    if campaign["state"] not in ("draft", "scheduled", "paused") or not campaign.get("segment_id"):
        return None
    try:
        return api().mailer.post(
            "/reachability",
            json={
                "segment_id": campaign["segment_id"],
                "channel": campaign["channel"],
                "topic": campaign["topic"],
            },
        )
    except (ApiFailure, ServiceUnavailable):
        return None


def waiting(campaign: dict, results: dict) -> list[dict]:
    """While it sends: the deliveries the mailer has deferred, per reason, with how many and
    when the first of them is tried again ({code, n, next}), the likeliest first. Empty when
    none is pending or the mailer does not answer (the page still shows the counts)."""
    if campaign["state"] != "sending" or not results.get("pending"):
        return []
    try:
        page = api().mailer.get("/deliveries", campaign_id=campaign["id"], status="deferred", limit=500)
    except (ApiFailure, ServiceUnavailable):
        return []
    return by_reason(page.get("items") or [])


def by_reason(deferred: list[dict]) -> list[dict]:
    """The mailer's deferred deliveries as {code, n, next}, the most frequent reason first."""
    by_code: dict[str, dict] = {}
    for delivery in deferred:
        code = delivery.get("code") or "provider_unavailable"
        row = by_code.setdefault(code, {"code": code, "n": 0, "next": None})
        row["n"] += 1
        due = delivery.get("due_at")
        if due and (row["next"] is None or due < row["next"]):
            row["next"] = due
    return sorted(by_code.values(), key=lambda row: -row["n"])


def referred_names(campaign: dict) -> dict[str, str]:
    """Segment and template id -> name, for the ids the campaign refers to.

    An id the user's role may not read, or whose service does not answer,
    stays out: the page then shows the id itself.
    """
    wanted = [("segments", "segments", campaign.get("segment_id"))]
    wanted += [
        ("mailer", "templates", template_id)
        for template_id in {
            campaign.get("template_id"),
            *(v.get("template_id") for v in campaign.get("variants") or []),
        }
    ]
    names = {}
    silent: set[str] = set()  # a service that did not answer is not asked again for this page
    for service, path, ref in wanted:
        if not ref or service in silent:
            continue
        try:
            names[ref] = getattr(api(), service).get(f"/{path}/{ref}")["name"]
        except ServiceUnavailable:
            silent.add(service)
        except (ApiFailure, KeyError, TypeError):
            continue
    return names
