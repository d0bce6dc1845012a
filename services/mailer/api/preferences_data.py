"""Preference center, part two: "my data" (download, correct, erase). The rules
are in ``services/mailer/prefs_data.py``; the pages without a link (a fresh link,
double opt-in) are in ``optin_pages``, imported here so they join the blueprint."""

from __future__ import annotations

import json

from flask import Response, request, url_for

from services.mailer import prefcenter, prefs_data
from services.mailer.api import optin_pages  # noqa: F401 - its views join prefpages.bp
from services.mailer.api.common import settings
from services.mailer.api.prefpages import bp, center_page, link_view, message, render, visit
from services.mailer.prefcenter import csrf_for_token
from services.mailer.prefs_text import TEXT
from shared import normalize
from shared.errors import Unavailable
from shared.http.auth import public


@bp.get("/p/<token>/data")
@public
@bp.doc(summary="Download everything held about the link's customer, as JSON")
@link_view(form=False)
def download(token, customer_id, customer, lang):
    """Profile, consents with their history, interactions, mentions, preferences."""
    try:
        data = prefs_data.export(visit(), customer_id, customer)
    except Unavailable:
        return message(lang, TEXT[lang]["unavailable"], 503)
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
    names = {}
    for name in ("first_name", "last_name"):
        value = (request.form.get(name) or "").strip()
        if len(value) > 100 or normalize.unsafe_character(value):  # a CR/LF in a name is a header line
            return center_page(token, customer_id, customer, lang, TEXT[lang]["invalid"], 422)
        names[name] = value
    try:
        customer = prefs_data.correct_name(visit(), customer_id, customer, names)
    except prefcenter.SegmentsError:
        return center_page(token, customer_id, customer, lang, TEXT[lang]["unavailable"], 503)
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
    try:
        prefs_data.erase(visit(), customer_id, customer)
    except prefcenter.SegmentsError:
        return message(lang, TEXT[lang]["unavailable"], 503)
    return message(lang, TEXT[lang]["erased"], heading=TEXT[lang]["erase"])
