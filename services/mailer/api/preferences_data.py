"""Preference center, part two: "my data" (download, correct, erase), a
fresh link for an expired one, and double opt-in."""

from __future__ import annotations

import datetime
import json
import logging
import uuid

from apiflask import Schema
from apiflask.fields import String
from apiflask.validators import Length, OneOf
from bson import ObjectId
from flask import Response, request, url_for
from marshmallow import ValidationError

from services.mailer import consents, prefcenter
from services.mailer.api.common import mailer, settings
from services.mailer.api.prefpages import (
    MARKETING_TOPICS,
    SOURCE,
    bp,
    center_page,
    change,
    cookie_form,
    csrf_cookie_ok,
    csrf_refused,
    csrf_token_ok,
    lang_of,
    link_view,
    message,
    render,
)
from services.mailer.listening import Listener, ListenerError
from services.mailer.prefcenter import csrf_for_token
from services.mailer.prefs_models import Preference
from services.mailer.prefs_text import TEXT
from services.mailer.tokens import TokenError
from services.mailer.transport import PermanentFailure, TransientFailure
from shared import normalize
from shared.http.auth import public, roles
from shared.http.errors import ApiError, field_error
from shared.models import ConsentEntry, ConsentState, Customer, Interaction, SuppressedContact, contact_hash
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


# --- my data -------------------------------------------------------------------------------------------


@bp.get("/p/<token>/data")
@public
@bp.doc(summary="Download everything held about the link's customer, as JSON")
@link_view(form=False)
def download(token, customer_id, customer, lang):
    """Profile, consents with their history, interactions, mentions, preferences."""
    try:
        # the listener owns mentions: asked through its API, all or nothing
        mentions = Listener(settings()).mentions_of(customer_id)
    except ListenerError:
        log.warning("my data for %s not served: the listener did not answer", customer_id, exc_info=True)
        return message(lang, TEXT[lang]["unavailable"], 503)
    data = {
        "exported_at": _plain(utcnow()),
        "profile": _plain(customer),
        "consents": _plain(list(ConsentState._get_collection().find({"customer_id": customer_id}))),
        "consent_history": _plain(
            list(ConsentEntry._get_collection().find({"customer_id": customer_id}).sort("_id", 1))
        ),
        "interactions": _plain(
            list(Interaction._get_collection().find({"customer_id": customer_id}).sort("at", 1))
        ),
        "mentions": mentions,
        "preferences": _plain(
            Preference._get_collection().find_one({"customer_id": customer_id}, {"_id": 0})
        ),
    }
    prefcenter.audit(customer_id, "download", request.remote_addr)
    return Response(
        json.dumps(data, ensure_ascii=False, indent=1),
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="my-data.json"'},
    )


@bp.post("/p/<token>/profile")
@public
@bp.doc(summary="Correct the link's customer's name")
@link_view(form=True)
def profile(token, customer_id, customer, lang):
    """Change first and last name through the segments service (the owner of Customer)."""
    fields = {}
    for name in ("first_name", "last_name"):
        value = (request.form.get(name) or "").strip()
        if len(value) > 100 or normalize.unsafe_character(value):  # a CR/LF in a name is a header line
            return center_page(token, customer_id, customer, lang, TEXT[lang]["invalid"], 422)
        if value != (customer.get(name) or ""):
            fields[name] = value or None
    if fields:
        try:
            prefcenter.Segments(settings()).update(customer_id, fields)
        except prefcenter.SegmentsError:
            return center_page(token, customer_id, customer, lang, TEXT[lang]["unavailable"], 503)
        prefcenter.audit(customer_id, "profile", request.remote_addr, fields=sorted(fields))
        customer = {**customer, **fields}
    return center_page(token, customer_id, customer, lang, TEXT[lang]["saved"])


@bp.get("/p/<token>/erase")
@public
@bp.doc(summary="Ask before erasing (changes nothing)")
@link_view(form=False)
def erase_page(token, _customer_id, customer, lang):
    """A confirmation page with a button that POSTs."""
    t = TEXT[lang]
    return render(
        "form.html",
        lang,
        heading=t["erase"],
        question=t["erase_ask"],
        button=t["erase_button"],
        danger=True,
        csrf=csrf_for_token(settings().secret_key, token),
        action=url_for("preferences.erase", token=token, lang=lang),
    )


@bp.post("/p/<token>/erase")
@public
@bp.doc(summary="Erase the link's customer")
@link_view(form=True)
def erase(token, customer_id, customer, lang):
    """Consents revoked, contacts kept only as hashes on the suppression list, profile
    anonymised by the segments service."""
    # Suppress first: from here on nothing is sent, even if the segments call below fails.
    for kind in ("email", "phone"):
        if customer.get(kind):
            SuppressedContact._get_collection().update_one(
                {"hash": contact_hash(kind, customer[kind])},
                {"$setOnInsert": {"kind": kind, "reason": "erased", "at": utcnow()}},
                upsert=True,
            )
    for state in consents.current(customer_id):
        if state.status in ("granted", "pending"):
            change(
                customer_id,
                state.channel,
                state.topic,
                "revoked",
                note="erasure",
                key=f"erase:{customer_id}:{state.channel}:{state.topic}",
            )
    Preference._get_collection().delete_one({"customer_id": customer_id})
    prefcenter.audit(customer_id, "erase", request.remote_addr)
    try:
        prefcenter.Segments(settings()).erase(customer_id)
    except prefcenter.SegmentsError:
        return message(lang, TEXT[lang]["unavailable"], 503)
    return message(lang, TEXT[lang]["erased"], heading=TEXT[lang]["erase"])


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
    customer = prefcenter.find_customer(request.form.get("email"))
    # Throttled per address as well as per client; the answer below is the same either way.
    if customer is not None and prefcenter.mail_allowed(settings(), customer["email"]):
        clang = "en" if (customer.get("locale") or "es").startswith("en") else "es"
        url = mailer().links.public_url + url_for(
            "preferences.center", token=mailer().tokens.sign("preferences", {"c": str(customer["_id"])})
        )
        try:
            prefcenter.send_email(
                settings(),
                to=customer["email"],
                subject=TEXT[clang]["renew_subject"],
                text=TEXT[clang]["renew_body"].format(url=url),
            )
        except (TransientFailure, PermanentFailure):
            pass  # the answer must not differ; the customer can ask again
        prefcenter.audit(customer["_id"], "renew_link", request.remote_addr)
    return message(lang, t["renew_done"], heading=t["renew_title"])


# --- double opt-in ------------------------------------------------------------------------------------------


def start_opt_in(email: str, topics: list[str], locale: str, ip: str | None, *, create: bool = True) -> bool:
    """Pending consent(s) with an expiry and one confirmation message per topic.

    Unknown addresses become customers through the segments service when
    ``create`` (the public form); else False. A consent already granted is left
    alone; the public answer is the same either way."""
    s = settings()
    customer = prefcenter.find_customer(email)
    if customer is None:
        if not create:
            return False
        if SuppressedContact.is_suppressed("email", email):
            return True  # erased or suppressed: never re-created, and the answer does not tell
        customer_id = ObjectId(prefcenter.Segments(s).create(email, locale))
        customer = Customer._get_collection().find_one({"_id": customer_id}) or {
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
            events=mailer().events,
            ip=ip,
            wording_version=s.wording_version,
            note="double opt-in requested",
            idempotency_key=f"optin:{nonce}",
        )
        ConsentState._get_collection().update_one(
            {"customer_id": customer_id, "channel": "email", "topic": topic, "entry_id": entry.id},
            {"$set": {"expires_at": expires}},
        )
        prefcenter.audit(customer_id, "opt_in_requested", ip, topic=topic)
        token = mailer().tokens.sign(
            "confirm", {"c": str(customer_id), "ch": "email", "t": topic, "k": nonce}
        )
        url = mailer().links.public_url + url_for("preferences.confirm_page", token=token)
        t = TEXT[clang]
        prefcenter.send_email(
            s,
            to=customer["email"],
            subject=t["confirm_subject"],
            text=t["confirm_body"].format(topic=t["topics"][topic], url=url),
        )
    return True


@bp.get("/subscribe")
@public
@bp.doc(summary="Public subscribe form (double opt-in)")
def subscribe_page():
    """Email and topics; nothing is granted until the emailed link is confirmed."""
    lang = lang_of(None)
    t = TEXT[lang]
    return cookie_form(
        "form.html",
        lang,
        heading=t["subscribe_title"],
        button=t["subscribe_button"],
        ask_email=True,
        ask_topic=True,
        topics=MARKETING_TOPICS,
        action=url_for("preferences.subscribe", lang=lang),
    )


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
        return cookie_form(
            "form.html",
            lang,
            422,
            heading=t["subscribe_title"],
            notice=t["invalid"],
            button=t["subscribe_button"],
            ask_email=True,
            ask_topic=True,
            topics=MARKETING_TOPICS,
            action=url_for("preferences.subscribe", lang=lang),
        )
    try:
        start_opt_in(email, topics, lang, request.remote_addr)
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
    try:
        started = start_opt_in(
            normalize.email(json_data["email"]),
            [json_data["topic"]],
            json_data["locale"],
            request.remote_addr,
            create=False,
        )
    except (TransientFailure, PermanentFailure):
        raise ApiError(503, "the confirmation message could not be sent; try again") from None
    if not started:
        raise field_error("email", "no customer has this address (create the customer in segments first)")
    return {"status": "pending"}


def _confirm_data(token: str):
    data = mailer().tokens.verify(token, "confirm", max_age=settings().confirm_max_age_hours * 3600)
    customer_id, customer = _customer_from_confirm(data)
    if data.get("ch") != "email" or data.get("t") not in MARKETING_TOPICS or not data.get("k"):
        raise TokenError("the link is not valid")
    return data, customer_id, customer


def _customer_from_confirm(data):
    try:
        customer_id = ObjectId(data["c"])
    except Exception:  # noqa: BLE001 - anything malformed is an invalid link
        raise TokenError("the link is not valid") from None
    customer = Customer._get_collection().find_one({"_id": customer_id})
    if customer is None or customer.get("erased"):
        raise TokenError("the link is not valid")
    return customer_id, customer


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
        data, _, customer = _confirm_data(token)
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
        data, customer_id, customer = _confirm_data(token)
    except TokenError as exc:
        return _bad_confirm_link(exc)
    lang = lang_of(customer)
    if not csrf_token_ok(token):
        return csrf_refused(lang)
    change(
        customer_id,
        "email",
        data["t"],
        "granted",
        note="double opt-in confirmed",
        key=f"optin-confirm:{data['k']}",
    )
    prefcenter.audit(customer_id, "opt_in_confirmed", request.remote_addr, topic=data["t"])
    return message(lang, TEXT[lang]["confirmed"], heading=TEXT[lang]["confirm_title"])
