"""What the send-time checks need for a set of customers, read in bulk: one
query each for profiles, consent states, suppression hashes and recent
marketing sends (the store is the bottleneck; per-recipient reads are not
affordable at thousands of messages a second)."""

from __future__ import annotations

import collections
import datetime

from services.mailer import consents, policy
from services.mailer.prefs_models import FREQUENCY_CAPS
from services.mailer.store import deliveries, recipients, suppression
from shared.models import contact_hash


class BatchContext:
    """Everything the send-time checks need for a set of customers, read in bulk."""

    def __init__(self, ids, channel: str, topic: str, marketing: bool, settings, now):
        self.channel, self.topic, self.marketing, self.settings, self.now = (
            channel,
            topic,
            marketing,
            settings,
            now,
        )
        ids = list(ids)
        self.customers = recipients.profiles(ids)
        self.consent = consents.state_map(ids, channel, topic)
        kind = "email" if channel == "email" else "phone"
        hashes = {}
        for cid, doc in self.customers.items():
            address = policy.address_of(doc, channel)
            if address:
                hashes[cid] = contact_hash(kind, address)
        found = suppression.suppressed_among(list(hashes.values()))
        self.suppressed = {cid for cid, h in hashes.items() if h in found}
        self.recent = collections.Counter()
        self.paused: dict = {}
        self.personal_capped: set = set()
        frequency: dict = {}
        if marketing:
            for doc in recipients.marketing_preferences(ids):
                if doc.get("paused_until"):
                    self.paused[doc["customer_id"]] = doc["paused_until"]
                if doc.get("frequency") in FREQUENCY_CAPS:
                    frequency[doc["customer_id"]] = FREQUENCY_CAPS[doc["frequency"]]
        if marketing and (settings.frequency_cap or frequency):
            days = max([settings.frequency_window_days] + [window for _, window in frequency.values()])
            global_since = now - datetime.timedelta(days=settings.frequency_window_days)
            sent: dict = collections.defaultdict(list)
            for doc in deliveries.marketing_sends_since(ids, now - datetime.timedelta(days=days)):
                sent[doc["customer_id"]].append(doc["sent_at"])
                if doc["sent_at"] >= global_since:
                    self.recent[doc["customer_id"]] += 1
            for cid, (most, window) in frequency.items():
                since = now - datetime.timedelta(days=window)
                if sum(1 for at in sent.get(cid, ()) if at >= since) >= most:
                    self.personal_capped.add(cid)

    def decide(self, cid) -> policy.Decision:
        return policy.decide(
            customer=self.customers.get(cid),
            channel=self.channel,
            topic=self.topic,
            marketing=self.marketing,
            consent=self.consent.get(cid),
            suppressed_hash=cid in self.suppressed,
            recent_marketing=self.recent[cid],
            cap=self.settings.frequency_cap,
            quiet=self.settings.quiet_hours,
            now=self.now,
            paused_until=self.paused.get(cid),
            personal_capped=cid in self.personal_capped,
        )
