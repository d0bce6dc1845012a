"""Saving the preference center's form: the consents that changed, the pause,
the frequency and the language, each change audited."""

from __future__ import annotations

import datetime

from bson import ObjectId

from services.mailer import consents, prefcenter
from services.mailer.prefcenter import Visit
from services.mailer.store import preferences as store
from shared.models import CHANNELS, TOPICS
from shared.store import utcnow


def save_choices(
    visit: Visit,
    customer_id: ObjectId,
    customer: dict,
    wanted: set[tuple[str, str]],
    pause: str,
    frequency: str,
    language: str | None,
) -> str | None:
    """Record what the form changed; the customer's new language, if it changed.

    ``wanted``: the (channel, topic) pairs to be granted; ``pause``: "", "resume"
    or a number of days. Raises SegmentsError when the language could not be changed
    (the rest is saved)."""
    ip = visit.ip
    states = {(s.channel, s.topic): s.status for s in consents.current(customer_id)}
    for channel in CHANNELS:
        for topic in TOPICS:
            had = states.get((channel, topic)) == "granted"
            if (channel, topic) in wanted and not had:
                prefcenter.change(visit, customer_id, channel, topic, "granted")
                prefcenter.audit(customer_id, "consent", ip, channel=channel, topic=topic, status="granted")
            elif (channel, topic) not in wanted and had:
                prefcenter.change(visit, customer_id, channel, topic, "revoked")
                prefcenter.audit(customer_id, "consent", ip, channel=channel, topic=topic, status="revoked")
    pref = store.preference_of(customer_id)
    update: dict = {}
    if pause == "resume" and pref.get("paused_until"):
        update["paused_until"] = None
    elif pause.isdigit():
        update["paused_until"] = utcnow() + datetime.timedelta(days=int(pause))
    if frequency != (pref.get("frequency") or "any"):
        update["frequency"] = frequency
    if update:
        store.save_preference(customer_id, update)
        prefcenter.audit(
            customer_id,
            "preferences",
            ip,
            **{k: (v.isoformat() if isinstance(v, datetime.datetime) else v) for k, v in update.items()},
        )
    current_locale = customer.get("locale") or "es"
    if language and not current_locale.startswith(language):
        visit.parts.segments.update(customer_id, {"locale": language})
        prefcenter.audit(customer_id, "language", ip, locale=language)
        return language
    return None
