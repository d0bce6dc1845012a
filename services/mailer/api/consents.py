"""Consents per customer: current state, history, and changes by a marketer or an import."""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import request

from services.mailer import consents
from services.mailer.api.common import aware, mailer
from services.mailer.api.schemas import (
    ConsentEntryOut,
    ConsentHistoryOut,
    ConsentIn,
    ConsentsOut,
    HistoryQuery,
)
from services.mailer.store import recipients
from shared.http.auth import mask_personal, roles
from shared.http.errors import not_found
from shared.http.paging import cursor_id, object_id

bp = APIBlueprint("consents", __name__, url_prefix="/customers", tag="consents")


def _customer(customer_id):
    oid = object_id(customer_id, "customer")
    if not recipients.exists(oid):
        raise not_found("customer", customer_id)
    return oid


def entry_out(entry):
    return {
        "id": str(entry.id),
        "channel": entry.channel,
        "topic": entry.topic,
        "status": entry.status,
        "source": entry.source,
        "at": aware(entry.at),
        "ip": entry.ip,
        "wording_version": entry.wording_version,
        "note": entry.note,
    }


@bp.get("/<customer_id>/consents")
@roles("marketer", "analyst")
@bp.output(ConsentsOut)
def current(customer_id):
    """The current consent per channel and topic."""
    oid = _customer(customer_id)
    items = [
        {
            "channel": s.channel,
            "topic": s.topic,
            "status": s.status,
            "at": aware(s.at),
            "entry_id": str(s.entry_id) if s.entry_id else None,
        }
        for s in consents.current(oid)
    ]
    return {"customer_id": str(oid), "items": items}


@bp.get("/<customer_id>/consents/history")
@roles("marketer", "analyst")
@bp.input(HistoryQuery, location="query")
@bp.output(ConsentHistoryOut)
def history(customer_id, query_data):
    """Every recorded change, newest first (the audit trail)."""
    oid = _customer(customer_id)
    entries, total = consents.history(oid, query_data["limit"], cursor_id(query_data))
    nxt = str(entries[-1].id) if len(entries) == query_data["limit"] else None
    return mask_personal({"items": [entry_out(e) for e in entries], "total": total, "next": nxt})


@bp.post("/<customer_id>/consents")
@roles("marketer")
@bp.input(ConsentIn)
@bp.output(ConsentEntryOut, status_code=201)
def change(customer_id, json_data):
    """Record a consent given or withdrawn (marketer, import), with its source and wording."""
    oid = _customer(customer_id)
    consents.check_not_future(json_data.get("at"))
    entry = consents.record_change(
        oid,
        json_data["channel"],
        json_data["topic"],
        json_data["status"],
        json_data["source"],
        events=mailer().events,
        idempotency_key=json_data.get("idempotency_key"),
        at=json_data.get("at"),
        ip=json_data.get("ip") or request.remote_addr,
        wording_version=json_data.get("wording_version"),
        note=json_data.get("note"),
    )
    return entry_out(entry)
