"""Intake from the mail side: bounce and complaint reports from the relay (DSN
and ARF), and mails sent to the List-Unsubscribe mailto: address."""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import request

from services.mailer import bounces
from services.mailer import unsubscribe as unsubscribing
from services.mailer.api.common import mailer
from services.mailer.api.schemas import BounceOut, MailUnsubscribeOut
from shared.http.auth import roles
from shared.http.errors import ApiError

bp = APIBlueprint("bounces", __name__, url_prefix="/bounces", tag="bounces")


@bp.post("")
@bp.doc(
    summary="Take a bounce report or complaint",
    description="The body is the raw report message (multipart/report; report-type=delivery-status "
    "or feedback-report), e.g. piped from the bounce mailbox.",
    responses={422: "empty, or not a bounce report"},
)
@bp.output(BounceOut)
@roles("admin")
def take_report():
    """Record a DSN or ARF report: hard bounces and complaints suppress the address."""
    raw = request.get_data()
    if not raw:
        raise ApiError(
            422,
            "The body must be the raw report message",
            error="validation_error",
            location="body",
            fields={"body": ["is empty"]},
        )
    return bounces.apply(bounces.parse(raw), mailer().events)


unsubscribes = APIBlueprint("unsubscribes", __name__, url_prefix="/unsubscribes", tag="unsubscribes")


@unsubscribes.post("/mail")
@unsubscribes.doc(
    summary="Take a mail sent to the List-Unsubscribe mailto: address",
    description="The body is the raw message, e.g. piped from the unsubscribe mailbox. Its subject "
    "must hold the token the message's List-Unsubscribe mailto: put there "
    "(`unsubscribe <token>`); the consent it names is revoked once per message.",
    responses={422: "empty, or no unsubscribe token"},
)
@unsubscribes.output(MailUnsubscribeOut)
@roles("admin")
def take_unsubscribe_mail():
    """Revoke the consent a reply to the mailto: unsubscribe target asks for."""
    raw = request.get_data()
    if not raw:
        raise ApiError(
            422,
            "The body must be the raw message",
            error="validation_error",
            location="body",
            fields={"body": ["is empty"]},
        )
    try:
        found = unsubscribing.revoke_by_mail(mailer().tokens, raw, events=mailer().events)
    except unsubscribing.NoToken as exc:
        raise ApiError(
            422,
            f"Not an unsubscribe request: {exc}",
            error="validation_error",
            location="body",
            fields={"subject": [str(exc)]},
        ) from None
    return {
        "customer_id": str(found.customer_id),
        "channel": found.channel,
        "topic": found.topic,
        "revoked": found.customer is not None,
    }
