"""The preference center: pages a customer reaches from the signed
"preferences" link every message carries (``/p/<token>``), the page to ask
for a fresh link, "my data" (download, correct, erase), and double opt-in
(``/subscribe``, ``/c/<token>``, and ``POST /subscriptions`` for marketers).

Every form is CSRF-protected (see prefcenter), every public endpoint is
rate-limited per IP, every change is audited and goes through
consents.record_change with source ``preference_center``. No personal data
travels in a URL: addresses are posted in form bodies.

This module holds the center's own views; ``prefpages`` what every page shares
and ``preferences_data`` the other pages.
"""

from __future__ import annotations

import datetime

from flask import Response, request

from services.mailer import consents, prefcenter
from services.mailer.api.common import settings
from services.mailer.api.prefpages import STYLE, bp, center_page, change, link_view, preference_of
from services.mailer.prefs_models import FREQUENCIES, PAUSE_DAYS, Preference
from services.mailer.prefs_text import TEXT
from shared.http.auth import public
from shared.models import CHANNELS, TOPICS
from shared.store import utcnow


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
    ip = request.remote_addr
    states = {(s.channel, s.topic): s.status for s in consents.current(customer_id)}
    for channel in CHANNELS:
        for topic in TOPICS:
            had = states.get((channel, topic)) == "granted"
            if (channel, topic) in wanted and not had:
                change(customer_id, channel, topic, "granted")
                prefcenter.audit(customer_id, "consent", ip, channel=channel, topic=topic, status="granted")
            elif (channel, topic) not in wanted and had:
                change(customer_id, channel, topic, "revoked")
                prefcenter.audit(customer_id, "consent", ip, channel=channel, topic=topic, status="revoked")
    pref = preference_of(customer_id)
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
            return center_page(token, customer_id, customer, lang, TEXT[lang]["unavailable"], 503)
        prefcenter.audit(customer_id, "language", ip, locale=language)
        customer = {**customer, "locale": language}
        lang = language
    return center_page(token, customer_id, customer, lang, TEXT[lang]["saved"])
