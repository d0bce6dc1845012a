"""Pages and links customers reach without a key: one-click unsubscribe
(RFC 8058: POST unsubscribes, GET only shows a confirmation page, since link
scanners follow GETs), the open pixel and the click redirect."""

from __future__ import annotations

import base64
import html

from apiflask import APIBlueprint
from bson import ObjectId
from bson.errors import InvalidId
from flask import Response, redirect, request

from services.mailer import engagement
from services.mailer import unsubscribe as unsubscribing
from services.mailer.api.common import mailer
from services.mailer.tokens import TokenError
from shared.http.auth import public
from shared.normalize import unsafe_character

bp = APIBlueprint("public", __name__, tag="public")

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")

TEXT = {
    "es": {
        "title": "Darse de baja",
        "ask": "¿Dejar de recibir los mensajes de «{topic}» por {channel} en {address}?",
        "button": "Darme de baja",
        "done": "Listo: no volverás a recibir mensajes de «{topic}» por {channel}.",
        "bad": "Este enlace no es válido o ha caducado.",
        "topics": {"newsletter": "boletín", "promotions": "promociones", "service": "avisos del servicio"},
        "channels": {"email": "correo", "sms": "SMS"},
    },
    "en": {
        "title": "Unsubscribe",
        "ask": "Stop receiving “{topic}” messages by {channel} at {address}?",
        "button": "Unsubscribe",
        "done": "Done: you will no longer receive “{topic}” messages by {channel}.",
        "bad": "This link is not valid or has expired.",
        "topics": {"newsletter": "newsletter", "promotions": "promotions", "service": "service notices"},
        "channels": {"email": "email", "sms": "SMS"},
    },
}


def page(lang: str, body: str, status: int = 200) -> Response:
    t = TEXT[lang]
    doc = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(t['title'])}</title></head><body><main>{body}</main></body></html>"
    )
    return Response(
        doc,
        status=status,
        mimetype="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _lang(customer: dict | None) -> str:
    locale = (customer or {}).get("locale") or request.accept_languages.best_match(["es", "en"]) or "es"
    return "en" if locale.startswith("en") else "es"


def _bad_unsubscribe_link() -> Response:
    lang = _lang(None)
    return page(lang, f"<p>{html.escape(TEXT[lang]['bad'])}</p>", 400)


@bp.get("/u/<token>")
@public
@bp.doc(summary="Unsubscribe confirmation page (changes nothing)")
def unsubscribe_page(token):
    """Show what the link would unsubscribe from, with a button that POSTs."""
    try:
        found = unsubscribing.verify(mailer().tokens, token)
    except TokenError:
        return _bad_unsubscribe_link()
    lang = _lang(found.customer)
    t = TEXT[lang]
    address = (found.customer or {}).get("email" if found.channel == "email" else "phone") or ""
    question = t["ask"].format(
        topic=t["topics"].get(found.topic, found.topic),
        channel=t["channels"].get(found.channel, found.channel),
        address=address,
    )
    return page(
        lang,
        f"<h1>{html.escape(t['title'])}</h1><p>{html.escape(question)}</p>"
        f'<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        f'<button type="submit">{html.escape(t["button"])}</button></form>',
    )


@bp.post("/u/<token>")
@public
@bp.doc(summary="One-click unsubscribe (RFC 8058): no login, the signed token is the authority")
def unsubscribe(token):
    """Revoke the consent the link names; repeating it changes nothing more."""
    try:
        # One ledger entry per link, however many times it is posted.
        found = unsubscribing.revoke(
            mailer().tokens,
            token,
            events=mailer().events,
            note="one-click unsubscribe",
            ip=request.remote_addr,
        )
    except TokenError:
        return _bad_unsubscribe_link()
    lang = _lang(found.customer)
    t = TEXT[lang]
    done = t["done"].format(
        topic=t["topics"].get(found.topic, found.topic),
        channel=t["channels"].get(found.channel, found.channel),
    )
    return page(lang, f"<h1>{html.escape(t['title'])}</h1><p>{html.escape(done)}</p>")


@bp.get("/t/o/<token>.gif")
@public
@bp.doc(summary="Open pixel")
def open_pixel(token):
    """A 1x1 GIF; the first load records the open."""
    try:
        delivery_id = ObjectId(mailer().tokens.verify(token, "open"))
        engagement.record(mailer().events, delivery_id, "opened")
    except (TokenError, InvalidId, TypeError):
        pass  # an image answers an image, whatever the token
    return Response(PIXEL, mimetype="image/gif", headers={"Cache-Control": "no-store, private"})


@bp.get("/t/c/<token>")
@public
@bp.doc(summary="Click redirect to a link that was in the message")
def click(token):
    """Redirect to the URL this signed token carries; the first click is recorded."""
    try:
        delivery_id, url = mailer().tokens.verify(token, "click")
        delivery_id = ObjectId(delivery_id)
    except (TokenError, InvalidId, TypeError, ValueError):
        return page(_lang(None), f"<p>{html.escape(TEXT[_lang(None)]['bad'])}</p>", 404)
    # a URL with a control character (CR/LF) could never be a Location header: a bad link
    if not isinstance(url, str) or not url.startswith(("https://", "http://")) or unsafe_character(url):
        return page(_lang(None), f"<p>{html.escape(TEXT[_lang(None)]['bad'])}</p>", 404)
    engagement.record(mailer().events, delivery_id, "clicked", url=url)
    return redirect(url, code=302)
