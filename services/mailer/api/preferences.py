"""The preference center: pages a customer reaches from the signed
"preferences" link every message carries (``/p/<token>``), the page to ask
for a fresh link, "my data" (download, correct, erase), and double opt-in
(``/subscribe``, ``/c/<token>``, and ``POST /subscriptions`` for marketers).

Every form is CSRF-protected (see prefcenter), every public endpoint is
rate-limited per IP, every change is audited and goes through
consents.record_change with source ``preference_center``. No personal data
travels in a URL: addresses are posted in form bodies.
"""

from __future__ import annotations

import datetime
import functools
from pathlib import Path

from apiflask import APIBlueprint
from bson import ObjectId
from bson.errors import InvalidId
from flask import Response, render_template, request, url_for

from services.mailer import consents, prefcenter
from services.mailer.api.common import mailer, settings
from services.mailer.prefs_models import FREQUENCIES, PAUSE_DAYS, Preference
from services.mailer.prefs_text import TEXT
from services.mailer.tokens import TokenError
from shared.http.auth import public
from shared.models import CHANNELS, TOPICS, Customer
from shared.store import utcnow

bp = APIBlueprint("preferences", __name__, tag="preferences", template_folder="../templates")

SOURCE = "preference_center"
MARKETING_TOPICS = ("newsletter", "promotions")
STYLE = (Path(__file__).resolve().parent.parent / "templates" / "preferences" / "style.css").read_text()
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


@bp.after_app_request
def security_headers(response):
    """Every customer-facing page (and the unsubscribe pages) gets the same headers."""
    if request.blueprint in ("preferences", "public"):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


@bp.before_request
def rate_limit():
    """Fixed window per IP and endpoint; 429 with a page beyond the limit."""
    if request.endpoint == "preferences.stylesheet" or request.endpoint == "preferences.subscribe_api":
        return None
    s = settings()
    if not prefcenter.hit(
        f"{request.remote_addr}|{request.endpoint}", s.public_rate_limit, s.public_rate_window
    ):
        lang = _lang(None)
        response = _message(lang, TEXT[lang]["slow"], 429)
        response.headers["Retry-After"] = str(s.public_rate_window)
        return response
    return None


# --- helpers ----------------------------------------------------------------------------------------


def _lang(customer: dict | None) -> str:
    wanted = request.args.get("lang")
    if wanted in TEXT:
        return wanted
    locale = (customer or {}).get("locale") or request.accept_languages.best_match(["es", "en"]) or "es"
    return "en" if locale.startswith("en") else "es"


def _switch_url(lang: str) -> str | None:
    """The same page in the other language (after a form post on the center: the center)."""
    endpoint = request.endpoint
    if endpoint in ("preferences.save", "preferences.profile"):
        endpoint = "preferences.center"
    elif request.method != "GET":
        return None
    return url_for(endpoint, **{**request.view_args, "lang": TEXT[lang]["switch_lang"]})


def _render(template: str, lang: str, status: int = 200, **context) -> Response:
    html = render_template(
        f"preferences/{template}", lang=lang, t=TEXT[lang], switch_url=_switch_url(lang), **context
    )
    return Response(html, status=status, mimetype="text/html")


def _message(lang: str, message: str, status: int = 200, heading: str | None = None, renew: bool = False):
    return _render("message.html", lang, status, message=message, heading=heading, renew=renew)


def _customer_from(token: str, purpose: str = "preferences") -> tuple[ObjectId, dict]:
    """The token's customer (raises TokenError); an erased customer's link is void."""
    max_age = settings().preferences_max_age_days * 86400 if purpose == "preferences" else None
    data = mailer().tokens.verify(token, purpose, max_age=max_age)
    try:
        customer_id = ObjectId(data["c"])
    except (InvalidId, TypeError, KeyError):
        raise TokenError("the link is not valid") from None
    customer = Customer._get_collection().find_one({"_id": customer_id})
    if customer is None or customer.get("erased"):
        raise TokenError("the link is not valid")
    return customer_id, customer


def _bad_link(exc: TokenError) -> Response:
    lang = _lang(None)
    t = TEXT[lang]
    return _message(lang, t["expired"] if exc.expired else t["bad"], 410 if exc.expired else 400, renew=True)


def _csrf_token_ok(token: str) -> bool:
    return prefcenter.csrf_ok(
        prefcenter.csrf_for_token(settings().secret_key, token), request.form.get("csrf")
    )


def _csrf_refused(lang: str) -> Response:
    return _message(lang, TEXT[lang]["csrf"], 403)


def link_view(form: bool):
    """The opening every page reached by a signed link shares: the link's customer (a
    bad or expired link gets its page), their language and, for a form (``form``),
    the CSRF check. The view is called as ``view(token, customer_id, customer, lang)``."""

    def decorate(view):
        @functools.wraps(view)
        def opened(token):
            try:
                customer_id, customer = _customer_from(token)
            except TokenError as exc:
                return _bad_link(exc)
            lang = _lang(customer)
            if form and not _csrf_token_ok(token):
                return _csrf_refused(lang)
            return view(token, customer_id, customer, lang)

        return opened

    return decorate


def _cookie_form(template: str, lang: str, status: int = 200, **context) -> Response:
    """A form without a link: set the double-submit cookie and put its HMAC in the form."""
    nonce = request.cookies.get(prefcenter.CSRF_COOKIE) or prefcenter.new_nonce()
    response = _render(
        template, lang, status, csrf=prefcenter.csrf_for_nonce(settings().secret_key, nonce), **context
    )
    response.set_cookie(
        prefcenter.CSRF_COOKIE, nonce, httponly=True, samesite="Strict", secure=request.is_secure, path="/"
    )
    return response


def _csrf_cookie_ok() -> bool:
    nonce = request.cookies.get(prefcenter.CSRF_COOKIE)
    return bool(nonce) and prefcenter.csrf_ok(
        prefcenter.csrf_for_nonce(settings().secret_key, nonce), request.form.get("csrf")
    )


def _granted(customer_id) -> set:
    return {(s.channel, s.topic) for s in consents.current(customer_id) if s.status == "granted"}


def _preference(customer_id) -> dict:
    return Preference._get_collection().find_one({"customer_id": customer_id}) or {}


def _change(customer_id, channel, topic, status, *, note=None, key=None):
    return consents.record_change(
        customer_id,
        channel,
        topic,
        status,
        SOURCE,
        events=mailer().events,
        ip=request.remote_addr,
        wording_version=settings().wording_version,
        note=note,
        idempotency_key=key,
    )


# --- the center ---------------------------------------------------------------------------------------


@bp.get("/p/style.css")
@public
@bp.doc(summary="Stylesheet of the customer pages (no external assets)")
def stylesheet():
    """The pages' only stylesheet, served here so the CSP needs no inline styles."""
    return Response(STYLE, mimetype="text/css", headers={"Cache-Control": "public, max-age=3600"})


def _center(token: str, customer_id, customer: dict, lang: str, notice: str | None = None, status: int = 200):
    pref = _preference(customer_id)
    paused = pref.get("paused_until")
    paused_text = paused.strftime("%Y-%m-%d") if paused and paused > utcnow() else None
    locale = customer.get("locale") or "es"
    return _render(
        "center.html",
        lang,
        status,
        token=token,
        notice=notice,
        csrf=prefcenter.csrf_for_token(settings().secret_key, token),
        channels=CHANNELS,
        topics=TOPICS,
        granted=_granted(customer_id),
        pause_days=PAUSE_DAYS,
        paused_until=paused_text,
        frequencies=FREQUENCIES,
        frequency=pref.get("frequency") or "any",
        customer_lang="en" if locale.startswith("en") else "es",
        first_name=customer.get("first_name"),
        last_name=customer.get("last_name"),
    )


@bp.get("/p/<token>")
@public
@bp.doc(summary="Preference center page (the signed link is the authority)")
@link_view(form=False)
def center(token, customer_id, customer, lang):
    """Show subscriptions per channel and topic, pause, frequency, language and "my data"."""
    return _center(token, customer_id, customer, lang)


@bp.post("/p/<token>")
@public
@bp.doc(summary="Save the preference center form")
@link_view(form=True)
def save(token, customer_id, customer, lang):
    """Record every consent that changed, the pause, the frequency and the language."""
    form = request.form
    wanted = set()
    for raw in form.getlist("consent"):
        channel, _, topic = raw.partition(":")
        if channel not in CHANNELS or topic not in TOPICS:
            return _center(token, customer_id, customer, lang, TEXT[lang]["invalid"], 422)
        wanted.add((channel, topic))
    pause, frequency, language = form.get("pause", ""), form.get("frequency", "any"), form.get("language")
    if (
        pause not in ("", "resume", *map(str, PAUSE_DAYS))
        or frequency not in FREQUENCIES
        or (language and language not in TEXT)
    ):
        return _center(token, customer_id, customer, lang, TEXT[lang]["invalid"], 422)
    ip = request.remote_addr
    states = {(s.channel, s.topic): s.status for s in consents.current(customer_id)}
    for channel in CHANNELS:
        for topic in TOPICS:
            had = states.get((channel, topic)) == "granted"
            if (channel, topic) in wanted and not had:
                _change(customer_id, channel, topic, "granted")
                prefcenter.audit(customer_id, "consent", ip, channel=channel, topic=topic, status="granted")
            elif (channel, topic) not in wanted and had:
                _change(customer_id, channel, topic, "revoked")
                prefcenter.audit(customer_id, "consent", ip, channel=channel, topic=topic, status="revoked")
    pref = _preference(customer_id)
    update: dict = {}
    if pause == "resume" and pref.get("paused_until"):
        update["paused_until"] = None
    elif pause.isdigit():
        update["paused_until"] = utcnow() + datetime.timedelta(days=int(pause))
    if frequency != (pref.get("frequency") or "any"):
        update["frequency"] = frequency
    if update:
        Preference._get_collection().update_one(
            {"customer_id": customer_id},
            {"$set": {**update, "updated_at": utcnow()}, "$setOnInsert": {"customer_id": customer_id}},
            upsert=True,
        )
        prefcenter.audit(
            customer_id,
            "preferences",
            ip,
            **{k: (v.isoformat() if isinstance(v, datetime.datetime) else v) for k, v in update.items()},
        )
    current_locale = customer.get("locale") or "es"
    if language and not current_locale.startswith(language):
        try:
            prefcenter.Segments(settings()).update(customer_id, {"locale": language})
        except prefcenter.SegmentsError:
            return _center(token, customer_id, customer, lang, TEXT[lang]["unavailable"], 503)
        prefcenter.audit(customer_id, "language", ip, locale=language)
        customer = {**customer, "locale": language}
        lang = language
    return _center(token, customer_id, customer, lang, TEXT[lang]["saved"])


from services.mailer.api import preferences_data  # noqa: E402,F401 - its views join this blueprint
