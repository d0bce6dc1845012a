"""Preference center pages reached without a link: asking for a fresh link and
double opt-in (``/subscribe``, ``/c/<token>``, and ``POST /subscriptions`` for
marketers). The rules are in ``services/mailer/optin.py``."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import String
from apiflask.validators import Length, OneOf
from flask import request, url_for
from marshmallow import ValidationError

from services.mailer import optin, prefcenter
from services.mailer.api.common import settings
from services.mailer.api.prefpages import (
    bp,
    center_url,
    confirm_url,
    cookie_form,
    csrf_cookie_ok,
    csrf_refused,
    csrf_token_ok,
    lang_of,
    message,
    render,
    visit,
)
from services.mailer.prefcenter import MARKETING_TOPICS, csrf_for_token
from services.mailer.prefs_text import TEXT
from services.mailer.tokens import TokenError
from services.mailer.transport import PermanentFailure, TransientFailure
from shared import normalize
from shared.http.auth import public, roles

# --- a fresh link ----------------------------------------------------------------------------------------


@bp.get("/p/renew")
@public
@bp.doc(summary="Ask for a fresh preference-center link")
def renew_page():
    """A form asking for an email address (posted, never in the URL)."""
    lang = lang_of(None)
    t = TEXT[lang]
    return cookie_form(
        "form.html",
        lang,
        heading=t["renew_title"],
        question=t["renew_ask"],
        button=t["send"],
        ask_email=True,
        action=url_for("preferences.renew", lang=lang),
    )


@bp.post("/p/renew")
@public
@bp.doc(summary="Mail a fresh link if the address is known; the answer never says")
def renew():
    """Same answer whether or not the address exists."""
    lang = lang_of(None)
    t = TEXT[lang]
    if not csrf_cookie_ok():
        return csrf_refused(lang)
    optin.send_fresh_link(visit(), request.form.get("email"), center_url=center_url)
    return message(lang, t["renew_done"], heading=t["renew_title"])


# --- double opt-in ------------------------------------------------------------------------------------------


def _subscribe_form(lang: str, status: int = 200, notice: str | None = None):
    t = TEXT[lang]
    extra = {"notice": notice} if notice else {}
    return cookie_form(
        "form.html",
        lang,
        status,
        heading=t["subscribe_title"],
        **extra,
        button=t["subscribe_button"],
        ask_email=True,
        ask_topic=True,
        topics=MARKETING_TOPICS,
        action=url_for("preferences.subscribe", lang=lang),
    )


@bp.get("/subscribe")
@public
@bp.doc(summary="Public subscribe form (double opt-in)")
def subscribe_page():
    """Email and topics; nothing is granted until the emailed link is confirmed."""
    return _subscribe_form(lang_of(None))


@bp.post("/subscribe")
@public
@bp.doc(summary="Start a double opt-in")
def subscribe():
    """Pending consent and a confirmation message; the same answer for any address."""
    lang = lang_of(None)
    t = TEXT[lang]
    if not csrf_cookie_ok():
        return csrf_refused(lang)
    topics = request.form.getlist("topic")
    try:
        email = normalize.email(request.form.get("email"))
    except ValueError:
        email = None
    if not email or not topics or any(topic not in MARKETING_TOPICS for topic in topics):
        return _subscribe_form(lang, 422, t["invalid"])
    try:
        optin.start_opt_in(visit(), email, topics, lang, confirm_url=confirm_url)
    except (prefcenter.SegmentsError, TransientFailure, PermanentFailure):
        return message(lang, t["unavailable"], 503)
    return message(lang, t["subscribe_done"], heading=t["subscribe_title"])


def _address(value: str) -> None:
    """The one address validator (shared.normalize.email): international and quoted addresses pass."""
    try:
        normalize.email(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class SubscriptionIn(Schema):
    email = String(required=True, validate=[Length(max=254), _address])
    topic = String(required=True, validate=OneOf(MARKETING_TOPICS))
    locale = String(load_default="es", validate=OneOf(("es", "en")))


class SubscriptionOut(Schema):
    status = String()


@bp.post("/subscriptions")
@roles("marketer")
@bp.input(SubscriptionIn)
@bp.output(SubscriptionOut, status_code=202)
@bp.doc(responses={422: "no customer has this address", 503: "the confirmation could not be mailed"})
def subscribe_api(json_data):
    """Start a double opt-in for a known customer's address (create the customer in segments first)."""
    optin.subscribe_known(
        visit(),
        normalize.email(json_data["email"]),
        json_data["topic"],
        json_data["locale"],
        confirm_url=confirm_url,
    )
    return {"status": "pending"}


def _bad_confirm_link(exc: TokenError):
    """An expired confirmation says so (410, ask again); any other bad link is a 400."""
    lang = lang_of(None)
    return message(
        lang, TEXT[lang]["confirm_late"] if exc.expired else TEXT[lang]["bad"], 410 if exc.expired else 400
    )


@bp.get("/c/<token>")
@public
@bp.doc(summary="Double opt-in confirmation page (changes nothing: link scanners follow GETs)")
def confirm_page(token):
    """Ask the customer to confirm with a button that POSTs."""
    try:
        data, _, customer = optin.confirmation(visit(), token)
    except TokenError as exc:
        return _bad_confirm_link(exc)
    lang = lang_of(customer)
    t = TEXT[lang]
    return render(
        "form.html",
        lang,
        heading=t["confirm_title"],
        question=t["confirm_ask"].format(topic=t["topics"][data["t"]]),
        button=t["confirm_button"],
        csrf=csrf_for_token(settings().secret_key, token),
        action=url_for("preferences.confirm", token=token, lang=lang),
    )


@bp.post("/c/<token>")
@public
@bp.doc(summary="Confirm a double opt-in: only this grants the consent")
def confirm(token):
    """Grant the consent the link names, once (idempotent by the link)."""
    try:
        data, customer_id, customer = optin.confirmation(visit(), token)
    except TokenError as exc:
        return _bad_confirm_link(exc)
    lang = lang_of(customer)
    if not csrf_token_ok(token):
        return csrf_refused(lang)
    optin.confirm(visit(), data, customer_id)
    return message(lang, TEXT[lang]["confirmed"], heading=TEXT[lang]["confirm_title"])
