"""The preference center: pages a customer reaches from the signed
"preferences" link every message carries (``/p/<token>``), the page to ask
for a fresh link, "my data" (download, correct, erase), and double opt-in
(``/subscribe``, ``/c/<token>``, and ``POST /subscriptions`` for marketers).

Every form is CSRF-protected (see prefcenter), every public endpoint is
rate-limited per IP, every change is audited and goes through
consents.record_change with source ``preference_center``. No personal data
travels in a URL: addresses are posted in form bodies.

This module holds the center's own views; ``prefpages`` what every page shares,
``preferences_data`` "my data" and ``optin_pages`` the pages without a link. The
rules are in the domain modules: ``prefcenter``, ``prefs_save``, ``prefs_data``, ``optin``.
"""

from __future__ import annotations

from flask import Response, request

from services.mailer import prefcenter, prefs_save
from services.mailer.api.prefpages import STYLE, bp, center_page, link_view, visit
from services.mailer.prefs_models import FREQUENCIES, PAUSE_DAYS
from services.mailer.prefs_text import TEXT
from shared.http.auth import public
from shared.models import CHANNELS, TOPICS


@bp.get("/p/style.css")
@public
@bp.doc(summary="Stylesheet of the customer pages (no external assets)")
def stylesheet():
    """The pages' only stylesheet, served here so the CSP needs no inline styles."""
    return Response(STYLE, mimetype="text/css", headers={"Cache-Control": "public, max-age=3600"})


@bp.get("/p/<token>")
@public
@bp.doc(summary="Preference center page (the signed link is the authority)")
@link_view(form=False)
def center(token, customer_id, customer, lang):
    """Show subscriptions per channel and topic, pause, frequency, language and "my data"."""
    return center_page(token, customer_id, customer, lang)


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
            return center_page(token, customer_id, customer, lang, TEXT[lang]["invalid"], 422)
        wanted.add((channel, topic))
    pause, frequency, language = form.get("pause", ""), form.get("frequency", "any"), form.get("language")
    if (
        pause not in ("", "resume", *map(str, PAUSE_DAYS))
        or frequency not in FREQUENCIES
        or (language and language not in TEXT)
    ):
        return center_page(token, customer_id, customer, lang, TEXT[lang]["invalid"], 422)
    try:
        new_language = prefs_save.save_choices(
            visit(), customer_id, customer, wanted, pause, frequency, language
        )
    except prefcenter.SegmentsError:
        return center_page(token, customer_id, customer, lang, TEXT[lang]["unavailable"], 503)
    if new_language:
        customer = {**customer, "locale": new_language}
        lang = new_language
    return center_page(token, customer_id, customer, lang, TEXT[lang]["saved"])
