"""Double opt-in and fresh links: a pending consent with an expiry and one
confirmation message per topic (the public subscribe form, the marketers'
``POST /subscriptions``, a segment's invitations), its confirmation (only this
grants), and mailing a fresh preference-center link to a known address.

Links are made by the caller (``confirm_url(token)``, ``center_url(token)``):
the pages they open are the views' business.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable

from bson import ObjectId

from services.mailer import consents, prefcenter
from services.mailer.prefcenter import MARKETING_TOPICS, SOURCE, Visit
from services.mailer.prefs_text import TEXT
from services.mailer.store import invitations as store
from services.mailer.store import preferences as prefs_store
from services.mailer.tokens import TokenError
from services.mailer.transport import PermanentFailure, TransientFailure
from shared.errors import Invalid, Unavailable
from shared.store import utcnow

Url = Callable[[str], str]


def start_opt_in(
    visit: Visit, email: str, topics: list[str], locale: str, *, confirm_url: Url, create: bool = True
) -> bool:
    """Pending consent(s) with an expiry and one confirmation message per topic.

    Unknown addresses become customers through the segments service when
    ``create`` (the public form); else False. A consent already granted is left
    alone; the public answer is the same either way. Raises SegmentsError and
    the transport's Transient/PermanentFailure."""
    s = visit.settings
    customer = prefcenter.find_customer(email)
    if customer is None:
        if not create:
            return False
        if store.is_suppressed("email", email):
            return True  # erased or suppressed: never re-created, and the answer does not tell
        customer_id = ObjectId(visit.parts.segments.create(email, locale))
        customer = prefs_store.find_customer(customer_id) or {
            "_id": customer_id,
            "email": email,
            "locale": locale,
        }
    customer_id = customer["_id"]
    clang = "en" if (customer.get("locale") or locale).startswith("en") else "es"
    states = {(st.channel, st.topic): st.status for st in consents.current(customer_id)}
    expires = utcnow() + datetime.timedelta(hours=s.confirm_max_age_hours)
    for topic in topics:
        if states.get(("email", topic)) == "granted":
            continue
        if not prefcenter.mail_allowed(s, customer["email"]):
            break  # this address had its few mails this window, whatever the client; the answer does not say
        nonce = uuid.uuid4().hex
        entry = consents.record_change(
            customer_id,
            "email",
            topic,
            "pending",
            SOURCE,
            events=visit.parts.events,
            ip=visit.ip,
            wording_version=s.wording_version,
            note="double opt-in requested",
            idempotency_key=f"optin:{nonce}",
        )
        store.expire_pending(customer_id, topic, entry.id, expires)
        prefcenter.audit(customer_id, "opt_in_requested", visit.ip, topic=topic)
        token = visit.parts.tokens.sign(
            "confirm", {"c": str(customer_id), "ch": "email", "t": topic, "k": nonce}
        )
        t = TEXT[clang]
        prefcenter.send_email(
            s,
            to=customer["email"],
            subject=t["confirm_subject"],
            text=t["confirm_body"].format(topic=t["topics"][topic], url=confirm_url(token)),
        )
    return True


def subscribe_known(visit: Visit, email: str, topic: str, locale: str, *, confirm_url: Url) -> None:
    """A marketer's double opt-in for a customer who exists (the segments service creates customers)."""
    try:
        started = start_opt_in(visit, email, [topic], locale, confirm_url=confirm_url, create=False)
    except (TransientFailure, PermanentFailure):
        raise Unavailable("the confirmation message could not be sent; try again") from None
    if not started:
        raise Invalid("email", "no customer has this address (create the customer in segments first)")


def confirmation(visit: Visit, token: str) -> tuple[dict, ObjectId, dict]:
    """The data, customer id and customer of a confirmation link (TokenError if bad or expired)."""
    data = visit.parts.tokens.verify(token, "confirm", max_age=visit.settings.confirm_max_age_hours * 3600)
    customer_id, customer = prefcenter.linked_customer(data)
    if data.get("ch") != "email" or data.get("t") not in MARKETING_TOPICS or not data.get("k"):
        raise TokenError("the link is not valid")
    return data, customer_id, customer


def confirm(visit: Visit, data: dict, customer_id: ObjectId) -> None:
    """Grant the consent a confirmation link names, once (idempotent by the link)."""
    prefcenter.change(
        visit,
        customer_id,
        "email",
        data["t"],
        "granted",
        note="double opt-in confirmed",
        key=f"optin-confirm:{data['k']}",
    )
    prefcenter.audit(customer_id, "opt_in_confirmed", visit.ip, topic=data["t"])


def send_fresh_link(visit: Visit, email: str | None, *, center_url: Url) -> None:
    """Mail a fresh preference-center link if the address is a customer's; silent either way."""
    customer = prefcenter.find_customer(email)
    # Throttled per address as well as per client; the caller's answer is the same either way.
    if customer is None or not prefcenter.mail_allowed(visit.settings, customer["email"]):
        return
    clang = "en" if (customer.get("locale") or "es").startswith("en") else "es"
    url = center_url(visit.parts.tokens.sign("preferences", {"c": str(customer["_id"])}))
    try:
        prefcenter.send_email(
            visit.settings,
            to=customer["email"],
            subject=TEXT[clang]["renew_subject"],
            text=TEXT[clang]["renew_body"].format(url=url),
        )
    except (TransientFailure, PermanentFailure):
        pass  # the answer must not differ; the customer can ask again
    prefcenter.audit(customer["_id"], "renew_link", visit.ip)
