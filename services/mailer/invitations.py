"""Double opt-in for a whole segment: each member with an address and no
consent yet gets a pending consent (with its expiry) and the confirmation
message the public subscribe form sends. Nothing is granted until the person
confirms; who was not invited is counted by reason."""

from __future__ import annotations

from bson import ObjectId
from bson.errors import InvalidId

from services.mailer.optin import Url, start_opt_in
from services.mailer.prefcenter import Visit
from services.mailer.store import invitations as store
from services.mailer.transport import PermanentFailure, TransientFailure
from shared.errors import Invalid, NotFound
from shared.store import utcnow

MAX_MEMBERS = 5000  # one request sends the messages: a bigger audience is split into segments


def _reason(person: dict, status: str | None) -> str | None:
    """Why a member is not invited (None: invite them)."""
    if person.get("erased"):
        return "erased"
    if not person.get("email"):
        return "no_email"
    if status == "granted":
        return "already_granted"
    if status == "pending":
        return "already_pending"
    if status in ("revoked", "denied"):
        return "revoked"  # they said no: an invitation would be unwanted mail
    if store.email_suppressed(person["email"]):
        return "suppressed"
    return None


def invite_segment(visit: Visit, segment_id: str, topic: str, *, confirm_url: Url) -> dict:
    """Invite every member of a segment who has not consented yet; the counts of who was and was not."""
    try:
        oid = ObjectId(segment_id)
    except (InvalidId, TypeError):
        raise NotFound("segment", segment_id) from None
    if not store.segment_exists(oid):
        raise NotFound("segment", segment_id)
    ids = store.member_ids(oid)
    if len(ids) > MAX_MEMBERS:
        raise Invalid(
            "segment_id", f"the segment has {len(ids)} members; invite at most {MAX_MEMBERS} at once"
        )
    now = utcnow()
    states = {
        doc["customer_id"]: (
            "expired"
            if doc["status"] == "pending" and doc.get("expires_at") and doc["expires_at"] < now
            else doc["status"]
        )
        for doc in store.email_consents(ids, topic)
    }
    skipped: dict[str, int] = {}
    invited = 0
    for person in store.contacts_of(ids):
        reason = _reason(person, states.get(person["_id"]))
        if reason is None:
            try:
                start_opt_in(
                    visit,
                    person["email"],
                    [topic],
                    person.get("locale") or "es",
                    confirm_url=confirm_url,
                    create=False,
                )
                invited += 1
                continue
            except (TransientFailure, PermanentFailure):
                reason = "send_failed"
        skipped[reason] = skipped.get(reason, 0) + 1
    return {
        "segment_id": str(oid),
        "topic": topic,
        "members": len(ids),
        "invited": invited,
        "not_invited": skipped,
    }
