"""Bounce and complaint intake from the relay (DSN and ARF reports)."""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import request

from shared.http.auth import roles
from shared.http.errors import ApiError

from services.mailer import bounces
from services.mailer.api.common import mailer
from services.mailer.api.schemas import BounceOut

bp = APIBlueprint("bounces", __name__, url_prefix="/bounces", tag="bounces")


@bp.post("")
@bp.doc(summary="Take a bounce report or complaint",
        description="The body is the raw report message (multipart/report; report-type=delivery-status "
                    "or feedback-report), e.g. piped from the bounce mailbox.")
@bp.output(BounceOut)
@roles("admin")
def take_report():
    """Record a DSN or ARF report: hard bounces and complaints suppress the address."""
    raw = request.get_data()
    if not raw:
        raise ApiError(422, "The body must be the raw report message", error="validation_error",
                       location="body", fields={"body": ["is empty"]})
    try:
        report = bounces.parse(raw)
    except bounces.NotAReport as exc:
        raise ApiError(422, f"Not a bounce report: {exc}", error="validation_error",
                       location="body", fields={"body": [str(exc)]}) from None
    return bounces.apply(report, mailer().events)
