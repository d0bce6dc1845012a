"""Bounce and complaint intake: DSNs (multipart/report; report-type=
delivery-status, RFC 3464) and ARF complaints (report-type=feedback-report,
RFC 5965), as the relay forwards them.

The delivery is found from the VERP address the report was sent to
(``bounces+<delivery>@...``) or from the returned message's Message-ID
(``<delivery>@...``). A hard bounce (5.x.x, action failed) or a complaint
suppresses the address in the hashed SuppressedContact list (the mailer's) and
announces ``contact.suppressed``, from which segments (the owner of Customer) sets
the profile's ``suppression`` sub-document; the delivery, if it was sent, becomes
``bounced`` (``delivery.bounced``, once). Both events are announced through one outbox
intent written before the writes (``intents.BOUNCE_KIND``). A
complaint also revokes the consent of the delivery's topic; the intent holds that revocation
too, so the relay completes it for a process killed after the writes. A soft bounce
(4.x.x, delayed) is noted on the delivery and changes nothing else.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import re
from dataclasses import dataclass

from bson import ObjectId
from bson.errors import InvalidId

from services.mailer import consents
from services.mailer.announcing import delivery_event
from services.mailer.intents import BOUNCE_KIND, complaint_change
from services.mailer.store import deliveries, recipients, suppression
from shared import normalize
from shared.errors import DomainError
from shared.logs import get_correlation_id
from shared.messaging.contracts import ContactSuppressed, DeliveryBounced, envelope_for
from shared.models import contact_hash
from shared.store import utcnow

VERP_RE = re.compile(r"bounces\+([0-9a-f]{24})@", re.IGNORECASE)
MSGID_RE = re.compile(r"<([0-9a-f]{24})@", re.IGNORECASE)


class NotAReport(DomainError):
    """The message is not a DSN or ARF report (422, about the body)."""

    status = 422
    code = "validation_error"

    def __init__(self, reason: str):
        super().__init__(f"Not a bounce report: {reason}", location="body", fields={"body": [reason]})
        self.reason = reason


@dataclass
class Report:
    kind: str  # hard, soft, complaint
    delivery_id: ObjectId | None
    address: str | None
    status: str | None
    diagnostic: str | None


_XTEXT = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")


def _header_text(value) -> str:
    """A header's text: the parser hands a raw UTF-8 value (RFC 6532) over as a Header object."""
    if isinstance(value, str):
        return value
    chunks = []
    for chunk, charset in email.header.decode_header(value):
        if isinstance(chunk, bytes):
            codec = "utf-8" if charset in (None, "unknown-8bit") else charset
            chunk = chunk.decode(codec, errors="replace")
        chunks.append(chunk)
    return "".join(chunks)


def _addr(value) -> str | None:
    """The address a report names, in the form profiles and the suppression list store it.

    Relays report what went on the wire: an IDN domain as A-labels
    (``xn--bcher-kva.example``), and RFC 6533 non-ASCII addresses raw or as ``\\x{F1}``
    escapes, in any normalisation form; hashed as such they would suppress an address
    the mailer never sends to."""
    if not value:
        return None
    value = _header_text(value).split(";", 1)[-1].strip().strip("<>")
    value = _XTEXT.sub(lambda m: chr(int(m.group(1), 16)), value)
    if not value:
        return None
    try:
        return normalize.email(value)
    except ValueError:
        return value.lower()


def _original_headers(report) -> dict:
    for part in report.walk():
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/rfc822-headers", "text/rfc822-headers"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return dict(payload[0].items())
            if isinstance(payload, str):
                return dict(email.message_from_string(payload, policy=email.policy.default).items())
    return {}


def parse(raw: bytes) -> Report:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if msg.get_content_type() != "multipart/report":
        raise NotAReport("expected a multipart/report message (a DSN or an ARF complaint)")
    report_type = (msg.get_param("report-type") or "").lower()
    original = _original_headers(msg)
    delivery_id = None
    for header in ("To", "Delivered-To", "X-Original-To", "Envelope-To"):
        match = VERP_RE.search(msg.get(header, "") or "")
        if match:
            delivery_id = ObjectId(match.group(1))
            break
    if delivery_id is None:
        match = MSGID_RE.search(original.get("Message-ID", "") or original.get("Message-Id", "") or "")
        if match:
            delivery_id = ObjectId(match.group(1))
    if report_type == "feedback-report":
        address = None
        for part in msg.walk():
            if part.get_content_type() == "message/feedback-report":
                fields = part.get_payload()
                fields = fields[0] if isinstance(fields, list) and fields else fields
                address = _addr(fields.get("Original-Rcpt-To")) if hasattr(fields, "get") else None
        address = address or _addr(original.get("To"))
        return Report("complaint", delivery_id, address, None, "complaint (ARF feedback report)")
    if report_type != "delivery-status":
        raise NotAReport(
            f"report-type {report_type or '(none)'} is neither delivery-status nor feedback-report"
        )
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        for block in blocks[1:] if isinstance(blocks, list) else []:
            # A field with raw UTF-8 (RFC 6533: a diagnostic quoting the address) is a Header.
            action = _header_text(block.get("Action") or "").strip().lower()
            status = _header_text(block.get("Status") or "").strip()
            address = _addr(block.get("Final-Recipient") or block.get("Original-Recipient"))
            diagnostic = _header_text(block.get("Diagnostic-Code") or "").split(";", 1)[-1].strip() or None
            hard = action == "failed" and status.startswith("5")
            return Report("hard" if hard else "soft", delivery_id, address, status, diagnostic)
    raise NotAReport("the report has no message/delivery-status part with a recipient")


def apply(report: Report, events) -> dict:
    """Record the report; what was done."""
    delivery = None
    if report.delivery_id is not None:
        delivery = deliveries.find(report.delivery_id)
    customer = None
    if delivery is not None:
        customer = recipients.email_of(delivery["customer_id"])
    elif report.address:
        customer = recipients.by_email(report.address)
    address = report.address or (customer or {}).get("email") or (delivery or {}).get("address")
    # An erased customer's delivery keeps no provider's words: a diagnostic quotes the address.
    diagnostic = None if (delivery or {}).get("erased") else report.diagnostic
    reason = f"{report.kind}: {report.status or ''} {diagnostic or ''}".strip()[:500]
    out = {
        "kind": report.kind,
        "delivery_id": str(report.delivery_id) if delivery else None,
        "address": address,
        "suppressed": False,
        "status": report.status,
    }
    if report.kind == "soft":
        if delivery is not None:
            deliveries.note_reason(delivery["_id"], reason)
        return out
    now = utcnow()
    flag = "bounced" if report.kind == "hard" else "complained"
    digest = contact_hash("email", address.lower()) if address else None
    # Both events go through one outbox intent written before the writes: a process killed
    # after them leaves the events to the relay, which announces those the store confirms.
    announced = []
    correlation_id = get_correlation_id()
    if delivery is not None:
        event = delivery_event(DeliveryBounced, delivery, reason=reason)
        message_id = f"delivery-{delivery['_id']}-bounced"
        announced.append(envelope_for(event, events.producer, correlation_id, message_id, now))
    if customer is not None:
        # Segments owns the profile: it mirrors the suppression as suppression.<flag> from this
        # event (the outbox keeps it if the broker is down; the id makes a repeated report one).
        about = (
            str(delivery["_id"]) if delivery is not None else contact_hash("email", (address or "").lower())
        )
        event = ContactSuppressed(customer_id=str(customer["_id"]), channel="email", flag=flag, reason=reason)
        message_id = f"suppressed-{flag}-{customer['_id']}-{about}"
        announced.append(envelope_for(event, events.producer, correlation_id, message_id, now))
    # A complaint's revocation is in the intent too: the relay completes it when a process was
    # killed after the writes below (the report may never come again).
    revoke = complaint_revocation(delivery) if report.kind == "complaint" and delivery is not None else None
    intent = events.record(
        BOUNCE_KIND, announced, since=now, hash=digest, revoke=revoke, correlation_id=correlation_id
    )
    first = delivery is not None and deliveries.record_first(
        delivery["_id"], "bounced_at", now, only_sent=True, extra_set={"status": "bounced", "reason": reason}
    )
    if digest:
        suppression.suppress(digest, "email", flag, at=now)
    # delivery.bounced once, by the report that recorded it; contact.suppressed by every report
    events.announce(intent, [e for e in announced if first or e.type != "delivery.bounced"])
    out["suppressed"] = True
    if revoke is not None:
        consents.record_change(**complaint_change(revoke), events=events, at=now)
    return out


def complaint_revocation(delivery: dict) -> dict:
    """What a complaint about ``delivery`` revokes: its customer's consent to its channel and
    topic, once per delivery (the key), however often the report or the relay comes."""
    return {
        "customer_id": delivery["customer_id"],
        "channel": delivery["channel"],
        "topic": delivery["topic"],
        "delivery_id": delivery["_id"],
        "key": f"complaint:{delivery['_id']}",
    }


__all__ = ["NotAReport", "Report", "apply", "parse", "InvalidId"]
