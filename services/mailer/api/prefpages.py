"""What every preference-center page shares: the blueprint, its security headers and
rate limit, rendering in the visitor's language, opening a signed link (``link_view``),
the CSRF checks, the visitor and the public links as the rules take them, and the
center page itself (the answer of most forms). The views live in ``preferences``
(the center), ``preferences_data`` (my data) and ``optin_pages`` (renewal, double
opt-in); they import from here, never the reverse.
"""

from __future__ import annotations

import functools
from pathlib import Path

from apiflask import APIBlueprint
from bson import ObjectId
from flask import Response, render_template, request, url_for

from services.mailer import prefcenter
from services.mailer.api.common import mailer, settings
from services.mailer.prefs_models import FREQUENCIES, PAUSE_DAYS
from services.mailer.prefs_text import TEXT
from services.mailer.tokens import TokenError
from shared.models import CHANNELS, TOPICS

bp = APIBlueprint("preferences", __name__, tag="preferences", template_folder="../templates")

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
        lang = lang_of(None)
        response = message(lang, TEXT[lang]["slow"], 429)
        response.headers["Retry-After"] = str(s.public_rate_window)
        return response
    return None


# --- helpers ----------------------------------------------------------------------------------------


def lang_of(customer: dict | None) -> str:
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


def render(template: str, lang: str, status: int = 200, **context) -> Response:
    html = render_template(
        f"preferences/{template}", lang=lang, t=TEXT[lang], switch_url=_switch_url(lang), **context
    )
    return Response(html, status=status, mimetype="text/html")


def message(lang: str, message: str, status: int = 200, heading: str | None = None, renew: bool = False):
    return render("message.html", lang, status, message=message, heading=heading, renew=renew)


def _customer_from(token: str) -> tuple[ObjectId, dict]:
    """The preferences link's customer (raises TokenError); an erased customer's link is void."""
    data = mailer().tokens.verify(token, "preferences", max_age=settings().preferences_max_age_days * 86400)
    return prefcenter.linked_customer(data)


def _bad_link(exc: TokenError) -> Response:
    lang = lang_of(None)
    t = TEXT[lang]
    return message(lang, t["expired"] if exc.expired else t["bad"], 410 if exc.expired else 400, renew=True)


def csrf_token_ok(token: str) -> bool:
    return prefcenter.csrf_ok(
        prefcenter.csrf_for_token(settings().secret_key, token), request.form.get("csrf")
    )


def csrf_refused(lang: str) -> Response:
    return message(lang, TEXT[lang]["csrf"], 403)


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
            lang = lang_of(customer)
            if form and not csrf_token_ok(token):
                return csrf_refused(lang)
            return view(token, customer_id, customer, lang)

        return opened

    return decorate


def cookie_form(template: str, lang: str, status: int = 200, **context) -> Response:
    """A form without a link: set the double-submit cookie and put its HMAC in the form."""
    nonce = request.cookies.get(prefcenter.CSRF_COOKIE) or prefcenter.new_nonce()
    response = render(
        template, lang, status, csrf=prefcenter.csrf_for_nonce(settings().secret_key, nonce), **context
    )
    response.set_cookie(
        prefcenter.CSRF_COOKIE, nonce, httponly=True, samesite="Strict", secure=request.is_secure, path="/"
    )
    return response


def csrf_cookie_ok() -> bool:
    nonce = request.cookies.get(prefcenter.CSRF_COOKIE)
    return bool(nonce) and prefcenter.csrf_ok(
        prefcenter.csrf_for_nonce(settings().secret_key, nonce), request.form.get("csrf")
    )


def visit() -> prefcenter.Visit:
    """This request's visitor, as the preference center's rules take it."""
    return prefcenter.Visit(settings(), mailer(), request.remote_addr)


def confirm_url(token: str) -> str:
    """The public address of a double opt-in confirmation link."""
    return mailer().links.public_url + url_for("preferences.confirm_page", token=token)


def center_url(token: str) -> str:
    """The public address of a preference-center link."""
    return mailer().links.public_url + url_for("preferences.center", token=token)


# --- the center ---------------------------------------------------------------------------------------


def center_page(
    token: str, customer_id, customer: dict, lang: str, notice: str | None = None, status: int = 200
):
    chosen = prefcenter.choices_of(customer_id)
    paused = chosen["paused_until"]
    locale = customer.get("locale") or "es"
    return render(
        "center.html",
        lang,
        status,
        token=token,
        notice=notice,
        csrf=prefcenter.csrf_for_token(settings().secret_key, token),
        channels=CHANNELS,
        topics=TOPICS,
        granted=chosen["granted"],
        pause_days=PAUSE_DAYS,
        paused_until=paused.strftime("%Y-%m-%d") if paused else None,
        frequencies=FREQUENCIES,
        frequency=chosen["frequency"],
        customer_lang="en" if locale.startswith("en") else "es",
        first_name=customer.get("first_name"),
        last_name=customer.get("last_name"),
    )
