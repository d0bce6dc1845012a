"""Resend to failed: request again only the recipients whose delivery failed and was not
sent since, grouped by step and variant (each group with its template), in batches of
``BATCH`` through the outbox (``send.requested`` with ``retry_failed``)."""

from __future__ import annotations

from services.campaigns.content import is_marketing, template_for
from services.campaigns.lifecycle import transition
from services.campaigns.store.result_queries import failures, recovered
from shared.messaging.contracts import SendRequested
from shared.store import utcnow

BATCH = 1000


def resend_failed(doc: dict, parts) -> tuple[dict, int]:
    """Sent -> sent, re-requesting the failed recipients through ``parts.outbox``;
    (the campaign updated, how many requested)."""
    updated = transition(doc["_id"], "resend_failed", {"last_resend_at": utcnow()})
    cid = str(doc["_id"])
    groups: dict[tuple, list[str]] = {}
    failed = failures(cid, "customer_id", "step", "variant")
    sent_since = recovered(cid, [f["delivery_id"] for f in failed])
    for fact in (f for f in failed if f["delivery_id"] not in sent_since):
        groups.setdefault((fact.get("step") or "main", fact.get("variant")), []).append(fact["customer_id"])
    requested = 0
    for (step, variant), people in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        template = template_for(updated, step, variant)
        for start in range(0, len(people), BATCH):
            batch = sorted(set(people))[start : start + BATCH]
            parts.outbox.publish(
                SendRequested(
                    campaign_id=cid,
                    channel=updated["channel"],
                    topic=updated["topic"],
                    template_id=template,
                    customer_ids=batch,
                    step=step,
                    variant=variant,
                    marketing=is_marketing(updated),
                    batch=start // BATCH,
                    retry_failed=True,
                )
            )
            requested += len(batch)
    return updated, requested
