""" "My data" in the preference center: everything held about a customer (the
download), correcting their name, and erasure. The segments service owns the
profile (corrections and anonymisation go through its API) and the timeline
(``interactions``, asked through its API, every page); the listener owns mentions
(asked through its API, every page). The download is all or nothing: while either
does not answer, the customer gets a page in their language (es/en) saying to try
again in a few minutes (503), never a file silently missing part of their data."""

from __future__ import annotations

import datetime
import logging

from bson import ObjectId

from services.mailer import consents, prefcenter
from services.mailer.listening import ListenerError
from services.mailer.prefcenter import Visit
from services.mailer.store import preferences as store
from shared.errors import Unavailable
from shared.store import utcnow

log = logging.getLogger(__name__)


def _plain(value):
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=datetime.UTC).isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "_cls"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def export(visit: Visit, customer_id: ObjectId, customer: dict) -> dict:
    """Profile, consents with their history, interactions, mentions, preferences, as JSON values
    (Unavailable when the listener cannot say which mentions are the customer's, or segments
    which interactions: the download is whole or not given)."""
    try:
        mentions = visit.parts.listener.mentions_of(customer_id)
    except ListenerError:
        log.warning("my data for %s not served: the listener did not answer", customer_id, exc_info=True)
        raise Unavailable("the listener did not answer") from None
    try:
        interactions = visit.parts.segments.interactions_of(customer_id)
    except prefcenter.SegmentsError:
        log.warning("my data for %s not served: segments did not answer", customer_id, exc_info=True)
        raise Unavailable("segments did not answer") from None
    held = store.data_of(customer_id)
    data = {
        "exported_at": _plain(utcnow()),
        "profile": _plain(customer),
        "consents": _plain(held["consents"]),
        "consent_history": _plain(held["consent_history"]),
        "interactions": interactions,
        "mentions": mentions,
        "preferences": _plain(held["preferences"]),
    }
    prefcenter.audit(customer_id, "download", visit.ip)
    return data


def correct_name(visit: Visit, customer_id: ObjectId, customer: dict, names: dict[str, str]) -> dict:
    """Change the names that differ through the segments service; the customer as it is now
    (raises SegmentsError when segments did not do it)."""
    fields = {name: value or None for name, value in names.items() if value != (customer.get(name) or "")}
    if not fields:
        return customer
    visit.parts.segments.update(customer_id, fields)
    prefcenter.audit(customer_id, "profile", visit.ip, fields=sorted(fields))
    return {**customer, **fields}


def erase(visit: Visit, customer_id: ObjectId, customer: dict) -> None:
    """Consents revoked, contacts kept only as hashes on the suppression list, profile
    anonymised by the segments service (raises SegmentsError when that last step fails)."""
    # Suppress first: from here on nothing is sent, even if the segments call below fails.
    for kind in ("email", "phone"):
        if customer.get(kind):
            store.suppress_erased(kind, customer[kind])
    for state in consents.current(customer_id):
        if state.status in ("granted", "pending"):
            prefcenter.change(
                visit,
                customer_id,
                state.channel,
                state.topic,
                "revoked",
                note="erasure",
                key=f"erase:{customer_id}:{state.channel}:{state.topic}",
            )
    store.delete_preference(customer_id)
    prefcenter.audit(customer_id, "erase", visit.ip)
    visit.parts.segments.erase(customer_id)
