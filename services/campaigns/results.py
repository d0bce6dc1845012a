"""Results: delivery events recorded once, conversions attributed, figures computed.

Each delivery event becomes one ``DeliveryFact`` whose ``_id`` is
``<delivery id>:<event type>``: a redelivered or duplicated event (even with
a new message id) cannot count twice, and opens and clicks count unique
deliveries. ``delivered`` = sent - bounced (the mailer reports no separate
"delivered"); ``failed`` counts deliveries that failed and were not sent
since (a resend that succeeded moves them to sent).

A purchase counts as a conversion of a campaign when the customer was sent
that campaign within its goal window (``goal.window_hours``, default 72 h)
before buying; one ``Conversion`` per (campaign, order), credited to the
variant the customer got. Every campaign that reached the buyer within its
window gets the conversion (no last-touch split). Revenue sums the amounts
in the campaign's currency; purchases in other currencies are counted but
not added (``revenue_other_currencies``).
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from bson import ObjectId
from bson.errors import InvalidId

from services.campaigns.store.campaign_queries import campaign_exists, find_campaign
from services.campaigns.store.result_queries import (
    add_conversion,
    add_fact,
    bucket_counts,
    conversions_of,
    facts_of,
    failures,
    first_send,
    recovered,
    sends_to,
    skipped_by_code,
)
from services.campaigns.store.run_queries import run_targets
from shared.messaging.consumer import Poison
from shared.messaging.contracts import ConsentChanged, Envelope, PurchaseRecorded
from shared.store import to_utc_naive, utcnow

DELIVERY_TYPES = {
    "delivery.sent": "sent",
    "delivery.failed": "failed",
    "delivery.bounced": "bounced",
    "delivery.opened": "opened",
    "delivery.clicked": "clicked",
    "delivery.skipped": "skipped",
}
COUNTED = ("sent", "failed", "skipped", "bounced", "opened", "clicked", "unsubscribed")
NOT_SENT = ("failed", "skipped")
LOOKBACK = datetime.timedelta(days=31)


def parse_time(raw: str) -> datetime.datetime:
    try:
        return to_utc_naive(datetime.datetime.fromisoformat(raw))
    except ValueError:
        raise Poison(f"{raw!r} is not an ISO 8601 time") from None


def record_fact(fact: dict) -> bool:
    """False when the fact is counted already."""
    return add_fact(fact)


def known_campaign(campaign_id: str) -> bool:
    """Whether ``campaign_id`` names a campaign of ours (journeys are campaigns too)."""
    try:
        oid = ObjectId(campaign_id)
    except (InvalidId, TypeError):
        return False
    return campaign_exists(oid)


def on_delivery(envelope: Envelope) -> None:
    """campaigns.delivery: one fact per (delivery, event type), for campaigns that exist."""
    event = envelope.event()
    kind = DELIVERY_TYPES.get(envelope.type)
    if kind is None:
        raise Poison(f"{envelope.type} is not a delivery event")
    if not known_campaign(event.campaign_id):
        # A forged or stray event must not become a result: it goes to the DLQ with this reason.
        raise Poison(f"{envelope.type} for unknown campaign {event.campaign_id[:64]!r}")
    record_fact(
        {
            "_id": f"{event.delivery_id}:{kind}",
            "campaign_id": event.campaign_id,
            "customer_id": event.customer_id,
            "delivery_id": event.delivery_id,
            "type": kind,
            "step": event.step,
            "variant": event.variant,
            "bucket": f"{event.variant or '-'}|{kind}",
            "at": parse_time(envelope.occurred_at),
            # Counted, not quoted: a provider's reason ("550 <ana@ejemplo.es>: unknown") and a
            # clicked link (?email=...) name the person and no result reads them; the mailer
            # keeps them with the delivery (and takes them out on an erasure).
            "code": event.code or (event.reason if kind == "skipped" else None),
        }
    )


def on_consent(envelope: Envelope) -> None:
    """campaigns.consent: an unsubscribe that names its campaign counts once per customer."""
    event: ConsentChanged = envelope.event()
    if event.source != "unsubscribe" or event.status not in ("revoked", "denied") or not event.campaign_id:
        return
    sent = first_send(event.campaign_id, event.customer_id)
    variant = sent.get("variant") if sent else None
    record_fact(
        {
            "_id": f"unsubscribe:{event.campaign_id}:{event.customer_id}",
            "campaign_id": event.campaign_id,
            "customer_id": event.customer_id,
            "delivery_id": sent["delivery_id"] if sent else "",
            "type": "unsubscribed",
            "step": sent.get("step") if sent else None,
            "variant": variant,
            "bucket": f"{variant or '-'}|unsubscribed",
            "at": parse_time(envelope.occurred_at),
        }
    )


def record_conversion(event: PurchaseRecorded) -> int:
    """Attribute a purchase to every campaign sent to the buyer within its window; returns how many."""
    bought = parse_time(event.purchased_at)
    latest: dict[str, dict] = {}
    for fact in sends_to(event.customer_id, bought - LOOKBACK, bought):
        if fact["campaign_id"] not in latest or fact["at"] > latest[fact["campaign_id"]]["at"]:
            latest[fact["campaign_id"]] = fact
    credited = 0
    for campaign_id, fact in latest.items():
        try:
            campaign = find_campaign(ObjectId(campaign_id), "goal")
        except Exception:  # noqa: BLE001 - a campaign id from elsewhere: not ours
            continue
        if campaign is None:
            continue
        window = datetime.timedelta(hours=(campaign.get("goal") or {}).get("window_hours", 72))
        if bought - fact["at"] > window:
            continue
        credited += add_conversion(
            {
                "_id": f"{campaign_id}:{event.order_id}",
                "campaign_id": campaign_id,
                "customer_id": event.customer_id,
                "order_id": event.order_id,
                "variant": fact.get("variant"),
                "amount": float(event.amount),
                "currency": event.currency.upper(),
                "at": bought,
            }
        )
    return credited


def _empty() -> dict:
    return {
        "targeted": 0,
        **{kind: 0 for kind in COUNTED},
        "delivered": 0,
        "conversions": 0,
        "revenue": 0.0,
        "revenue_other_currencies": 0,
    }


def compute(campaign: dict) -> dict:
    """Figures for the whole campaign and per variant (variant "-" = no variant)."""
    cid = str(campaign["_id"])
    per: dict[str, dict] = {}

    def row(variant: str) -> dict:
        return per.setdefault(variant, _empty())

    for targeted in run_targets(campaign["_id"]):
        for variant, n in targeted.items():
            row(variant)["targeted"] += n
    if campaign.get("journey_sent"):
        row("-")["targeted"] += campaign["journey_sent"]
    for bucket, n in bucket_counts(cid):
        variant, _, kind = bucket.rpartition("|")
        row(variant)[kind] += n
    not_sent: dict[str, int] = {}
    for code, n in skipped_by_code(cid):
        not_sent[code or "other"] = not_sent.get(code or "other", 0) + n
    failed = failures(cid, "variant", "code")
    if failed:
        sent_since = recovered(cid, [f["delivery_id"] for f in failed])
        for fact in failed:
            if fact["delivery_id"] in sent_since:
                row(fact.get("variant") or "-")["failed"] -= 1
            else:
                code = fact.get("code") or "provider_rejected"
                not_sent[code] = not_sent.get(code, 0) + 1
    currency = campaign.get("currency") or "EUR"
    for conversion in conversions_of(cid, "variant", "amount", "currency"):
        r = row(conversion.get("variant") or "-")
        r["conversions"] += 1
        if conversion["currency"] == currency:
            r["revenue"] += conversion["amount"]
        else:
            r["revenue_other_currencies"] += 1
    total = _empty()
    variants = []
    for name, r in sorted(per.items()):
        r["delivered"] = max(r["sent"] - r["bounced"], 0)
        r["revenue"] = round(r["revenue"], 2)
        for key in total:
            total[key] += r[key]
        if name != "-":
            variants.append({"variant": name, **r, **rates(r)})
    total["revenue"] = round(total["revenue"], 2)
    cost = campaign.get("cost")
    roi = round((total["revenue"] - cost) / cost, 4) if cost else None
    total["pending"] = max(total["targeted"] - total["sent"] - total["failed"] - total["skipped"], 0)
    return {
        "campaign_id": cid,
        "state": campaign["state"],
        "currency": currency,
        **total,
        **rates(total),
        "cost": cost,
        "roi": roi,
        "variants": variants,
        "not_sent": dict(sorted(not_sent.items())),
        "computed_at": utcnow().isoformat() + "+00:00",
    }


def rates(r: dict) -> dict:
    base = r["delivered"] or r["sent"]
    return {
        "open_rate": round(r["opened"] / base, 4) if base else None,
        "click_rate": round(r["clicked"] / base, 4) if base else None,
        "conversion_rate": round(r["conversions"] / base, 4) if base else None,
    }


def timeline(campaign: dict, bucket: str = "hour", tz_name: str = "UTC") -> list[dict]:
    """Counts per hour or day (in ``tz_name``) for charts: delivery events and conversions."""
    tz = ZoneInfo(tz_name)
    cid = str(campaign["_id"])
    points: dict[datetime.datetime, dict] = {}

    def key(at: datetime.datetime) -> datetime.datetime:
        local = at.replace(tzinfo=datetime.UTC).astimezone(tz)
        local = local.replace(minute=0, second=0, microsecond=0)
        if bucket == "day":
            local = local.replace(hour=0)
        # Keyed by the instant: the two 02:00s of the night clocks go back compare equal as local times.
        return local.astimezone(datetime.UTC)

    for fact in facts_of(cid, "type", "at"):
        point = points.setdefault(
            key(fact["at"]), {**{kind: 0 for kind in COUNTED}, "conversions": 0, "revenue": 0.0}
        )
        point[fact["type"]] += 1
    for conversion in conversions_of(cid, "amount", "at", "currency"):
        point = points.setdefault(
            key(conversion["at"]), {**{kind: 0 for kind in COUNTED}, "conversions": 0, "revenue": 0.0}
        )
        point["conversions"] += 1
        if conversion["currency"] == (campaign.get("currency") or "EUR"):
            point["revenue"] = round(point["revenue"] + conversion["amount"], 2)
    return [{"at": at.astimezone(tz).isoformat(), **values} for at, values in sorted(points.items())]
