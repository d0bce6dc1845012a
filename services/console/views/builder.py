"""The block editor: compose an e-mail from blocks on the template's draft, one language at a
time; add, reorder, duplicate and remove blocks; merge fields from a list; preview the draft at
desktop or phone width and as plain text; send a test; publish. And the gallery of starting
templates (newsletter, offer, welcome, event) to copy.

Every action is a form post (the page works without JavaScript): the server reads the blocks
from the form, applies the action and saves the draft through the mailer's API; when the
mailer refuses the content, the page keeps what was typed and shows each error at its block.
Reading the blocks, the buttons and placing the errors: services/console/block_form.py.
"""

from __future__ import annotations

import copy

from flask import Blueprint, redirect, render_template, request, url_for

from services.console.block_form import IN_COLUMN, KINDS, apply, block_errors, new_block, read_blocks
from services.console.client import ApiFailure, api
from services.console.i18n import EN
from services.console.i18n import gettext as _
from services.console.i18n import locale as ui_locale
from services.console.security import requires

bp = Blueprint("builder", __name__, url_prefix="/templates")

LANGS = ("es", "en")
TOPICS = ("newsletter", "promotions", "service")
# merge field -> what the list shows (the mailer's blocks.MERGE_FIELDS)
MERGE_FIELDS = ("first_name", "last_name", "name", "email", "city", "country")
NETWORKS = ("x", "facebook", "instagram", "linkedin", "youtube", "tiktok", "mastodon", "web")
VIEWS = ("desktop", "phone", "text")
# English for the codes the editor shows in words (Spanish in messages_es)
EN.update(
    {
        "block_heading": "heading",
        "block_text": "text",
        "block_image": "image",
        "block_button": "button",
        "block_columns": "columns",
        "block_divider": "divider",
        "block_spacer": "spacer",
        "block_social": "social links",
        "block_html": "custom HTML",
        "block_footer": "footer",
        "merge_first_name": "first name",
        "merge_last_name": "last name",
        "merge_name": "full name",
        "merge_email": "e-mail",
        "merge_city": "city",
        "merge_country": "country",
        "view_desktop": "Desktop",
        "view_phone": "Phone",
        "view_text": "Plain text",
        "gallery_newsletter": "Newsletter",
        "gallery_offer": "Offer",
        "gallery_welcome": "Welcome",
        "gallery_event": "Event invitation",
        "gallery_newsletter_about": "A monthly newsletter with two stories in columns.",
        "gallery_offer_about": "An offer with a discount code and a button.",
        "gallery_welcome_about": "A welcome with the first steps.",
        "gallery_event_about": "An invitation with when, where and a reply button.",
    }
)


def _template(template_id: str) -> dict:
    return api().mailer.get(f"/templates/{template_id}")


def _page(
    template: dict, lang: str, variants: dict, *, errors=None, other=None, status=200, sent=None, problem=None
):
    variant = variants.get(lang) or {}
    view = request.args.get("view") if request.args.get("view") in VIEWS else "phone"
    customer_id = (request.values.get("customer_id") or "").strip()
    preview = None
    if template.get("draft") and (status == 200 or sent):
        try:
            chosen = {"customer_id": customer_id} if customer_id else {}
            preview = api().mailer.post(
                f"/templates/{template['id']}/preview", {"draft": True, "locale": lang, **chosen}
            )
        except ApiFailure as exc:
            if exc.status not in (404, 422):
                raise
            problem = problem or exc
    return render_template(
        "templates/builder.html",
        template=template,
        lang=lang,
        langs=LANGS,
        variant=variant,
        blocks=variant.get("blocks") or [],
        has_lang={code: code in variants for code in LANGS},
        errors=errors or {},
        other=other or [],
        kinds=KINDS,
        in_column=IN_COLUMN,
        merge_fields=MERGE_FIELDS,
        networks=NETWORKS,
        topics=TOPICS,
        view=view,
        views=VIEWS,
        preview=preview,
        sent=sent,
        problem=problem,
        customer_id=customer_id,
    ), status


def _draft_variants(template: dict) -> dict:
    return dict(((template.get("draft") or {}).get("variants")) or {})


@bp.get("/<template_id>/blocks")
@requires("templates_read")
def editor(template_id):
    template = _template(template_id)
    lang = request.args.get("lang") if request.args.get("lang") in LANGS else "es"
    return _page(template, lang, _draft_variants(template))


@bp.post("/<template_id>/blocks")
@requires("templates")
def save(template_id):
    """Apply the pressed button to the blocks typed in, save the draft; publish when asked."""
    template = _template(template_id)
    lang = request.form.get("lang") if request.form.get("lang") in LANGS else "es"
    action = request.form.get("action", "save")
    variants = _draft_variants(template)
    if action.startswith("addlang:"):
        target = action.partition(":")[2]
        if target in LANGS and target not in variants and variants.get(lang):
            variants[target] = copy.deepcopy(variants[lang])
        lang = target if target in LANGS else lang
    else:
        variant = {
            "subject": request.form.get("subject", ""),
            "blocks": apply(read_blocks(request.form), action, request.form, lang),
        }
        for key in ("preheader", "from_name"):
            if request.form.get(key, "").strip():
                variant[key] = request.form[key].strip()
        variants[lang] = variant
    draft = template.get("draft") or {}
    body = {
        "variants": variants,
        "fallback_locale": draft.get("fallback_locale") or "es",
        "sample": draft.get("sample") or {},
    }
    try:
        template = api().mailer.request("PUT", f"/templates/{template_id}/draft", json=body)
    except ApiFailure as exc:
        if exc.status not in (409, 422):
            raise
        errors, other = block_errors(exc, lang)
        template["draft"] = {**draft, "variants": variants}
        return _page(template, lang, variants, errors=errors, other=other, status=422)
    if action == "publish":
        topic = request.form.get("topic") if request.form.get("topic") in TOPICS else None
        try:
            api().mailer.post(f"/templates/{template_id}/draft/publish", {"topic": topic} if topic else {})
        except ApiFailure as exc:
            if exc.status not in (409, 422):
                raise
            errors, other = block_errors(exc, lang)
            return _page(template, lang, variants, errors=errors, other=other, status=422)
        return redirect(url_for("builder.editor", template_id=template_id, lang=lang, published=1))
    anchor = action.partition(":")[2] if action.startswith(("up:", "down:", "dup:", "add")) else ""
    return redirect(
        url_for("builder.editor", template_id=template_id, lang=lang, view=request.form.get("view") or None)
        + (f"#block-{anchor}" if anchor else "")
    )


@bp.post("/<template_id>/blocks/test-send")
@requires("templates")
def test_send(template_id):
    template = _template(template_id)
    lang = request.form.get("lang") if request.form.get("lang") in LANGS else "es"
    try:
        chosen = (
            {"customer_id": request.form["customer_id"].strip()}
            if request.form.get("customer_id", "").strip()
            else {}
        )
        sent = api().mailer.post(
            f"/templates/{template_id}/test-send",
            {"to": request.form.get("to", ""), "draft": True, "locale": lang, **chosen},
        )
    except ApiFailure as exc:
        if exc.status not in (404, 422, 502, 503):
            raise
        return _page(template, lang, _draft_variants(template), other=[exc.message], status=422)
    return _page(template, lang, _draft_variants(template), sent=sent)


@bp.route("/gallery", methods=["GET", "POST"])
@requires("templates")
def gallery():
    """Start an e-mail from blocks: blank or a copy of a gallery template."""
    if request.method == "POST":
        key = request.form.get("key", "")
        name = request.form.get("name", "").strip()
        try:
            if key == "blank":
                lang = ui_locale()
                created = api().mailer.post(
                    "/templates",
                    {
                        "name": name or _("New e-mail"),
                        "channel": "email",
                        "draft": True,
                        "topic": request.form.get("topic")
                        if request.form.get("topic") in TOPICS
                        else "newsletter",
                        "fallback_locale": lang,
                        "variants": {
                            lang: {
                                "subject": _("Hello, {{ first_name }}"),
                                "blocks": [
                                    new_block("heading", lang),
                                    new_block("text", lang),
                                    new_block("footer", lang),
                                ],
                            }
                        },
                    },
                )
            else:
                created = api().mailer.post(f"/templates/gallery/{key}", {"name": name} if name else {})
        except ApiFailure as exc:
            if exc.status not in (404, 422):
                raise
            items = api().mailer.get("/templates/gallery")["items"]
            return render_template(
                "templates/gallery.html", items=items, topics=TOPICS, message=exc.message
            ), exc.status
        lang = created.get("fallback_locale") if created.get("fallback_locale") in LANGS else "es"
        return redirect(url_for("builder.editor", template_id=created["id"], lang=lang))
    items = api().mailer.get("/templates/gallery")["items"]
    return render_template("templates/gallery.html", items=items, topics=TOPICS, message=None)
