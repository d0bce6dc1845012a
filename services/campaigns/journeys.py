"""Triggered campaigns and multi-step journeys.

A campaign with a ``trigger`` schedule that is ``scheduled`` listens: an event
of its type whose payload passes the filter (and, when the campaign has a
segment, whose customer is in it) enrolls the customer. A campaign without
journey steps is a one-step journey sending its template.

Steps run in order: ``send`` requests one message (step name = the step id,
``<id>@<entry>`` from the second entry on, so the mailer's unique delivery per
campaign, customer and step lets a re-entered customer get it again);
``wait`` parks the enrollment until ``wake_at``; ``branch`` tests whether the
delivery of an earlier send step was opened / clicked (from the delivery facts)
and jumps to ``then`` or ``else`` (a step id, "end", or by default the next);
any step may name its ``next`` (a step id or "end").

Per-customer state is the ``Enrollment`` document (current step, status,
wake time, history). The trigger's delay and every wait are advanced by the
scheduler (lease holder), each enrollment claimed by a conditional update
(``waiting -> running``) so two replicas never run the same step. A send step
is published with message id ``journey:<enrollment>:<step index>`` before the
step index moves on, so a crash in between re-publishes the same message.

Re-entry rule (``journey.reentry``): ``never`` (default): a customer enters a
journey once, ever; ``after_exit``: again, but only after their previous
enrollment is done. The same event (message id) never enrolls twice.
"""

from __future__ import annotations

import datetime
import logging

from bson import ObjectId
from bson.errors import InvalidId

from services.campaigns import results
from services.campaigns.content import is_marketing
from services.campaigns.schedules import matches
from services.campaigns.store.campaign_queries import count_journey_send, find_campaign, listening_campaigns
from services.campaigns.store.journey_queries import (
    add_enrollment,
    claim_enrollment,
    customer_in_segment,
    drop_enrollment,
    due_enrollments,
    enrollments_of,
    finish_enrollment,
    move_enrollment,
    park_enrollment,
    record_branch,
    step_sent,
)
from services.campaigns.store.result_queries import delivery_seen
from shared.audience import RULE_MAX_TIME_MS
from shared.logs import event as log_event
from shared.messaging.contracts import Envelope, SendRequested
from shared.store import utcnow

log = logging.getLogger(__name__)
CLAIM = datetime.timedelta(seconds=60)


def steps_of(campaign: dict) -> list[dict]:
    if campaign.get("journey"):
        return campaign["journey"]["steps"]
    return [{"id": "main", "type": "send", "template_id": campaign["template_id"]}]


def step_name(step_id: str, entry: int) -> str:
    return step_id if entry == 1 else f"{step_id}@{entry}"


def in_segment(campaign: dict, customer: ObjectId, max_time_ms: int = RULE_MAX_TIME_MS) -> bool:
    if not campaign.get("segment_id"):
        return True
    return customer_in_segment(campaign["segment_id"], customer, max_time_ms)


def on_trigger(envelope: Envelope, parts) -> None:
    """campaigns.triggers: conversions from purchases; enrollments in listening campaigns.
    ``parts``: the process's ``CampaignsParts`` (settings, outbox)."""
    event = envelope.event()
    if envelope.type == "purchase.recorded":
        results.record_conversion(event)
    payload = event.to_dict()
    customer_id = payload.get("customer_id")
    if not customer_id:
        return  # e.g. a mention by someone who is not a known customer
    try:
        customer = ObjectId(customer_id)
    except InvalidId:
        return
    now = utcnow()
    for campaign in listening_campaigns(envelope.type):
        if not matches(campaign["schedule"].get("filter"), payload) or not in_segment(
            campaign, customer, getattr(parts.settings, "rule_max_time_ms", RULE_MAX_TIME_MS)
        ):
            continue
        enrollment = enroll(campaign, customer_id, envelope.message_id, now)
        if enrollment and campaign["schedule"].get("delay_seconds", 0) == 0:
            advance(enrollment["_id"], campaign, parts.outbox, now)


def enroll(campaign: dict, customer_id: str, trigger: str, now: datetime.datetime) -> dict | None:
    cid = str(campaign["_id"])
    previous = enrollments_of(cid, customer_id)
    if any(p.get("trigger") == trigger for p in previous):
        return None
    reentry = (campaign.get("journey") or {}).get("reentry", "never")
    if previous and (reentry == "never" or any(p["status"] != "done" for p in previous)):
        return None
    entry = len(previous) + 1
    doc = {
        "_id": f"{cid}:{customer_id}:{entry}",
        "campaign_id": cid,
        "customer_id": customer_id,
        "entry": entry,
        "trigger": trigger,
        "status": "waiting",
        "step": 0,
        "history": [],
        "entered_at": now,
        "wake_at": now + datetime.timedelta(seconds=campaign["schedule"].get("delay_seconds", 0)),
    }
    if not add_enrollment(doc):
        return None
    log_event(log, "customer enrolled", campaign_id=cid, customer_id=customer_id, entry=entry)
    return doc


def advance_due(scheduler, now: datetime.datetime) -> None:
    """Scheduler: run the enrollments whose wait is over (and any whose runner died)."""
    cache: dict = {}
    for enrollment in due_enrollments(now, 500):
        cid = enrollment["campaign_id"]
        if cid not in cache:
            cache[cid] = find_campaign(ObjectId(cid))
        campaign = cache[cid]
        if campaign is None or campaign["state"] == "cancelled":
            drop_enrollment(enrollment, now, "cancelled")
            continue
        if campaign["state"] != "scheduled":
            continue  # paused: the enrollment waits
        advance(enrollment["_id"], campaign, scheduler.outbox, now)


def jump(target: str | None, index: int, ids: list[str]) -> int:
    """The step index after ``index``: the next one, a named one, or past the end."""
    if target is None:
        return index + 1
    return len(ids) if target == "end" else ids.index(target)


def advance(enrollment_id: str, campaign: dict, outbox, now: datetime.datetime) -> None:
    claimed = claim_enrollment(enrollment_id, now, now + CLAIM)
    if claimed is None:
        return  # another replica (or the worker) has it
    steps = steps_of(campaign)
    ids = [s["id"] for s in steps]
    index, entry = claimed["step"], claimed["entry"]
    customer = claimed["customer_id"]
    while index < len(steps):
        step = steps[index]
        if step["type"] == "send":
            name = step_name(step["id"], entry)
            outbox.publish(
                SendRequested(
                    campaign_id=str(campaign["_id"]),
                    channel=campaign["channel"],
                    topic=campaign["topic"],
                    template_id=step["template_id"],
                    customer_ids=[customer],
                    step=name,
                    variant=None,
                    marketing=is_marketing(campaign),
                ),
                message_id=f"journey:{enrollment_id}:{index}",
            )
            following = jump(step.get("next"), index, ids)
            if step_sent(enrollment_id, index, following, name):
                count_journey_send(campaign["_id"])
            index = following
        elif step["type"] == "wait":
            park_enrollment(enrollment_id, index, now + datetime.timedelta(seconds=step["seconds"]))
            return
        else:
            kind = step["if"].replace("not_", "")
            seen = delivery_seen(str(campaign["_id"]), customer, step_name(step["of"], entry), kind)
            passed = seen if not step["if"].startswith("not_") else not seen
            target = step["then"] if passed else step["else"]
            record_branch(
                enrollment_id, {"step": step["id"], "if": step["if"], "result": passed, "at": utcnow()}
            )
            index = jump(target, index, ids)
            move_enrollment(enrollment_id, index)
    finish_enrollment(enrollment_id)
