"""Unsubscribing by a message's signed token: the one-click POST (RFC 8058) and
a reply to the List-Unsubscribe mailto: address come here.

The token (``Links.unsubscribe_token``) names the customer, channel, topic and
delivery; it is the authority, as for the one-click link, so no login and no
trust in a mail's From address. One ledger entry per message, however many
times it is used.

A mail client answering the mailto: target sends a message to the
unsubscribe mailbox with the subject ``unsubscribe <token>``; whatever reads
that mailbox posts each raw message to ``POST /unsubscribes/mail`` (as bounce
reports go to ``POST /bounces``).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass

from bson import ObjectId
from bson.errors import InvalidId

from services.mailer import consents
from services.mailer.store import preferences as store
from services.mailer.tokens import TokenError

# A signed token: URL-safe base64 pieces joined by dots (see services/mailer/tokens.py).
TOKEN = re.compile(r"\bunsubscribe\s+([A-Za-z0-9_\-.]{20,})", re.IGNORECASE)


class NoToken(ValueError):
    """The mail carries no valid unsubscribe token."""


@dataclass
class Unsubscribed:
    customer_id: ObjectId
    channel: str
    topic: str
    delivery_id: str | None
    customer: dict | None  # None: the customer no longer exists or was erased (nothing to record)


def verify(tokens, token: str) -> Unsubscribed:
    """The token's customer, channel and topic (TokenError if the token is bad or malformed)."""
    data = tokens.verify(token, "unsubscribe")
    try:
        customer_id, channel, topic = ObjectId(data["c"]), data["ch"], data["t"]
    except (InvalidId, KeyError, TypeError) as exc:
        raise TokenError(f"malformed unsubscribe token ({exc})") from None
    return Unsubscribed(customer_id, channel, topic, data.get("d"), store.customer_contacts(customer_id))


def revoke(tokens, token: str, *, events, note: str, ip: str | None = None) -> Unsubscribed:
    """Revoke the consent the token names (once per message); raises like ``verify``."""
    found = verify(tokens, token)
    if found.customer is not None:
        key = f"unsubscribe:{found.delivery_id or hashlib.sha256(token.encode()).hexdigest()[:32]}"
        consents.record_change(
            found.customer_id,
            found.channel,
            found.topic,
            "revoked",
            "unsubscribe",
            events=events,
            idempotency_key=key,
            ip=ip,
            note=note,
            campaign_id=campaign_of(found.delivery_id),
        )
    return found


def campaign_of(delivery_id) -> str | None:
    """The campaign a message belonged to, so its results count the unsubscribe."""
    try:
        oid = ObjectId(delivery_id)
    except (InvalidId, TypeError):
        return None
    return store.campaign_of_delivery(oid)


def token_in_mail(raw: bytes) -> str:
    """The token of an ``unsubscribe <token>`` subject (NoToken when there is none)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    subject = str(message.get("Subject", "") or "")
    # Clients may prefix "Re:" or percent-decode differently; the token is the word after "unsubscribe".
    match = TOKEN.search(subject.replace("%20", " "))
    if not match:
        raise NoToken("the subject has no 'unsubscribe <token>'")
    return match.group(1)


def revoke_by_mail(tokens, raw: bytes, *, events) -> Unsubscribed:
    """Revoke what a mail to the unsubscribe mailbox asks (NoToken when it proves nothing)."""
    token = token_in_mail(raw)
    try:
        return revoke(tokens, token, events=events, note="mailto unsubscribe")
    except TokenError as exc:
        raise NoToken(f"the subject's token is not valid ({exc})") from None
