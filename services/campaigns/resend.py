"""Resend to failed: request again only the recipients whose delivery failed and was not
sent since, grouped by step and variant (each group with its template), in batches of
``BATCH`` through the outbox (``send.requested`` with ``retry_failed``).

The requests are announced through one outbox intent written before the campaign's
``last_resend_at`` moves (their message ids fixed then): a process killed after that
write leaves them to the relay (the campaigns worker's or scheduler's idle task), which
announces them when ``last_resend_at`` is the time this resend set. One insert and one
delete per resend that requests anyone."""

from __future__ import annotations

from services.campaigns.content import is_marketing, template_for
from services.campaigns.lifecycle import transition
from services.campaigns.store.campaign_queries import find_campaign
from services.campaigns.store.result_queries import failures, recovered
from shared.logs import get_correlation_id
from shared.messaging import outbox as outboxes
from shared.messaging.contracts import SendRequested, envelope_for
from shared.store import utcnow

BATCH = 1000
KIND = "campaigns.resend"
PRODUCER = "campaigns"


def resend_failed(doc: dict, parts) -> tuple[dict, int]:
    """Sent -> sent, re-requesting the failed recipients through ``parts.outbox``;
    (the campaign updated, how many requested)."""
    cid = str(doc["_id"])
    groups: dict[tuple, list[str]] = {}
    failed = failures(cid, "customer_id", "step", "variant")
    sent_since = recovered(cid, [f["delivery_id"] for f in failed])
    for fact in (f for f in failed if f["delivery_id"] not in sent_since):
        groups.setdefault((fact.get("step") or "main", fact.get("variant")), []).append(fact["customer_id"])
    requests = []
    for (step, variant), people in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        template = template_for(doc, step, variant)
        for start in range(0, len(people), BATCH):
            batch = sorted(set(people))[start : start + BATCH]
            requests.append(
                SendRequested(
                    campaign_id=cid,
                    channel=doc["channel"],
                    topic=doc["topic"],
                    template_id=template,
                    customer_ids=batch,
                    step=step,
                    variant=variant,
                    marketing=is_marketing(doc),
                    batch=start // BATCH,
                    retry_failed=True,
                )
            )
    now = utcnow()
    intent = None
    if requests:
        correlation_id = get_correlation_id()
        envelopes = [envelope_for(event, parts.outbox.producer, correlation_id) for event in requests]
        intent = parts.outbox.record(KIND, envelopes, campaign_id=doc["_id"], since=now)
    try:
        updated = transition(doc["_id"], "resend_failed", {"last_resend_at": now})
    except Exception:
        if intent is not None:
            parts.outbox.discard(intent)  # refused: nothing requested
        raise
    if intent is not None:
        parts.outbox.announce(intent)
    return updated, sum(len(event.customer_ids) for event in requests)


def _resent(envelope, record: dict) -> bool:
    """The resend's write happened: the campaign's ``last_resend_at`` is (at least) its time."""
    at = (find_campaign(record["campaign_id"], "last_resend_at") or {}).get("last_resend_at")
    return at is not None and at >= record["since"]


outboxes.register(KIND, PRODUCER, outboxes.checked(_resent))
