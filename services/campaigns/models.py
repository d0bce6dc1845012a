"""The campaigns service's documents.

The service reads and writes them through their pymongo collections with
conditional updates (claims, transitions, checkpoints), all in ``store.py``;
the mongoengine classes declare the collections and their indexes, and
document the shape.

* ``Campaign``: what to send to whom and when, and its lifecycle state.
* ``CampaignRun``: one fire of a campaign. Its ``_id`` is the fire id
  (``<campaign id>:<UTC fire time>``), so inserting it is the claim that makes
  two scheduler replicas unable to fire the same time twice. It carries the
  fan-out checkpoint (last customer id published, batch number).
* ``SchedulerLease``: which scheduler replica may fire, until when.
* ``DeliveryFact``: one per (delivery, event type): results count these, so a
  redelivered event never counts twice.
* ``Conversion``: one per (campaign, order): revenue attributed to a campaign.
* ``Enrollment``: one customer's way through a triggered journey.
"""

from __future__ import annotations

import mongoengine as me

from shared.store import utcnow

STATES = ("draft", "scheduled", "sending", "paused", "sent", "cancelled", "failed")


class Campaign(me.Document):
    name = me.StringField(required=True, max_length=200)
    channel = me.StringField(required=True, choices=("email", "sms"))
    topic = me.StringField(required=True)
    segment_id = me.ObjectIdField()
    template_id = me.StringField()
    variants = me.ListField(me.DictField())  # [{name, template_id, split}]
    ab_test = me.DictField()  # {test_share, metric, window_hours, min_sample}
    schedule = me.DictField()  # see schedules.py
    cost = me.FloatField()
    currency = me.StringField(default="EUR")
    goal = me.DictField()  # {kind: "purchase", window_hours}
    journey = me.DictField()  # {steps: [...], reentry}
    state = me.StringField(required=True, choices=STATES, default="draft")
    paused_from = me.StringField()
    failure_reason = me.StringField()
    next_fire_at = me.DateTimeField()
    current_run = me.StringField()
    missed_runs = me.IntField(default=0)
    created_at = me.DateTimeField(default=utcnow)
    updated_at = me.DateTimeField(default=utcnow)

    meta = {
        "collection": "campaigns",
        "strict": False,
        "indexes": [("state", "next_fire_at"), ("state", "schedule.kind", "schedule.event"), "name"],
    }


class CampaignRun(me.Document):
    id = me.StringField(primary_key=True)  # the fire id
    campaign_id = me.ObjectIdField(required=True)
    due_at = me.DateTimeField(required=True)
    fired_at = me.DateTimeField()
    # pending -> sending -> (waiting_winner -> sending) -> done; paused; cancelled; failed
    state = me.StringField(default="pending")
    phase = me.StringField(default="main")  # main | test | rest (A/B)
    checkpoint = me.DictField()  # {last_id, batch}
    targeted = me.DictField()  # variant (or "-") -> recipients published
    worker = me.StringField()
    worker_until = me.DateTimeField()
    touched_at = me.DateTimeField()
    ab = me.DictField()  # {decide_at, winner, reason, stats, decided_at}
    announced_at = me.DateTimeField()  # campaign.due published
    lateness = me.FloatField()  # seconds from the due time to campaign.due published
    finished_at = me.DateTimeField()  # every batch published
    outcome = me.StringField()  # after the fan-out: sending -> sent once every delivery is terminal
    completed_at = me.DateTimeField()

    meta = {
        "collection": "campaign_runs",
        "strict": False,
        "indexes": [("campaign_id", "due_at"), ("state", "touched_at"), ("state", "ab.decide_at")],
    }


class SchedulerLease(me.Document):
    id = me.StringField(primary_key=True)
    holder = me.StringField()
    expires_at = me.DateTimeField()

    meta = {"collection": "scheduler_leases", "strict": False}


class DeliveryFact(me.Document):
    id = me.StringField(primary_key=True)  # "<delivery_id>:<event type>"
    campaign_id = me.StringField(required=True)
    customer_id = me.StringField(required=True)
    delivery_id = me.StringField(required=True)
    type = me.StringField(required=True)  # sent, failed, bounced, opened, clicked, unsubscribed
    step = me.StringField()
    variant = me.StringField()
    # "<variant>|<type>": one field to group on (the stand-in cannot group on a compound _id).
    bucket = me.StringField()
    at = me.DateTimeField(required=True)
    code = me.StringField()  # the short reason a failed or skipped delivery was not sent

    meta = {
        "collection": "campaign_delivery_facts",
        "strict": False,
        "indexes": [
            ("campaign_id", "bucket"),
            ("campaign_id", "type", "step", "customer_id"),
            ("customer_id", "type", "at"),
            ("campaign_id", "at"),
        ],
    }


class Conversion(me.Document):
    id = me.StringField(primary_key=True)  # "<campaign id>:<order id>"
    campaign_id = me.StringField(required=True)
    customer_id = me.StringField(required=True)
    order_id = me.StringField(required=True)
    variant = me.StringField()
    amount = me.FloatField(required=True)
    currency = me.StringField()
    at = me.DateTimeField(required=True)

    meta = {"collection": "campaign_conversions", "strict": False, "indexes": [("campaign_id", "at")]}


class Enrollment(me.Document):
    id = me.StringField(primary_key=True)  # "<campaign id>:<customer id>:<entry number>"
    campaign_id = me.StringField(required=True)
    customer_id = me.StringField(required=True)
    entry = me.IntField(required=True)
    trigger = me.StringField()  # message id of the event that enrolled the customer
    status = me.StringField(required=True)  # waiting | running | done
    step = me.IntField(default=0)  # index of the next step to run
    wake_at = me.DateTimeField()
    claimed_until = me.DateTimeField()
    history = me.ListField(me.DictField())
    entered_at = me.DateTimeField(default=utcnow)
    finished_at = me.DateTimeField()

    meta = {
        "collection": "campaign_enrollments",
        "strict": False,
        "indexes": [
            ("status", "wake_at"),
            ("status", "claimed_until"),
            ("campaign_id", "customer_id", "entry"),
        ],
    }


DOCUMENTS = (Campaign, CampaignRun, SchedulerLease, DeliveryFact, Conversion, Enrollment)
