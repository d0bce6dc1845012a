"""The block editor: compose an e-mail from blocks on the template's draft, one language at a
time; add, reorder, duplicate and remove blocks; merge fields from a list; preview the draft at
desktop or phone width and as plain text; send a test; publish. And the gallery of starting
templates (newsletter, offer, welcome, event) to copy.

Every action is a form post (the page works without JavaScript): the server reads the blocks
from the form, applies the action and saves the draft through the mailer's API; when the
mailer refuses the content, the page keeps what was typed and shows each error at its block.
"""

from __future__ import annotations

import copy

from flask import Blueprint, redirect, render_template, request, url_for

from services.console.client import ApiFailure, api
from services.console.i18n import EN
from services.console.i18n import gettext as _
from services.console.i18n import locale as ui_locale
from services.console.security import requires

bp = Blueprint("builder", __name__, url_prefix="/templates")

LANGS = ("es", "en")
TOPICS = ("newsletter", "promotions", "service")
KINDS = ("heading", "text", "image", "button", "columns", "divider", "spacer", "social", "html", "footer")
IN_COLUMN = ("heading", "text", "image", "button", "divider", "spacer")
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


def new_block(kind: str, lang: str) -> dict:
    """A block as added: filled with words to replace, so the draft stays valid."""
    es = lang == "es"
    examples = {
        "heading": {"text": "Un título" if es else "A heading", "level": 1},
        "text": {"text": "Hola, {{first_name}}." if es else "Hello, {{first_name}}."},
        "image": {
            "src": "https://www.example.com/imagen.png",
            "alt": "Describe la imagen" if es else "Describe the image",
        },
        "button": {"text": "Ver más" if es else "See more", "url": "https://www.example.com/"},
        "columns": {
            "columns": [
                [{"type": "text", "text": "Columna 1" if es else "Column 1"}],
                [{"type": "text", "text": "Columna 2" if es else "Column 2"}],
            ]
        },
        "divider": {},
        "spacer": {"height": 24},
        "social": {"links": [{"network": "instagram", "url": "https://www.instagram.com/"}]},
        "html": {"html": "<p>HTML</p>"},
        "footer": {"text": ""},
    }
    return {"type": kind, **copy.deepcopy(examples[kind])}


def _int(value, default=None):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default if value in (None, "") else value  # kept as typed: the mailer names it


def read_blocks(form, prefix: str = "b.") -> list[dict]:
    """The blocks a form holds: fields ``b.<path>.<name>`` (path ``3`` or ``4.c1.0``)."""
    depth = prefix.count(".")
    indexes = sorted(
        {
            int(key.split(".")[depth])
            for key in form
            if key.startswith(prefix)
            and key.endswith(".type")
            and key.count(".") == depth + 1
            and key.split(".")[depth].isdigit()
        }
    )
    blocks = []
    for index in indexes:
        at = f"{prefix}{index}."
        kind = form.get(at + "type")
        block: dict = {"type": kind}
        if kind in ("heading", "text", "footer"):
            block["text"] = form.get(at + "text", "")
        if kind == "heading":
            block["level"] = _int(form.get(at + "level"), 1)
        if kind == "image":
            block.update(src=form.get(at + "src", "").strip(), alt=form.get(at + "alt", ""))
            if form.get(at + "href", "").strip():
                block["href"] = form.get(at + "href").strip()
            if form.get(at + "width", "").strip():
                block["width"] = _int(form.get(at + "width"))
        if kind == "button":
            block.update(text=form.get(at + "text", ""), url=form.get(at + "url", "").strip())
        if kind == "spacer":
            block["height"] = _int(form.get(at + "height"), 24)
        if kind == "html":
            block["html"] = form.get(at + "html", "")
        if kind == "social":
            links = []
            for line in form.get(at + "links", "").splitlines():
                network, _, url = line.strip().partition(" ")
                if network:
                    links.append({"network": network.lower(), "url": url.strip()})
            block["links"] = links
        if kind == "columns":
            count = 3 if form.get(at + "count") == "3" else 2
            block["columns"] = [read_blocks(form, f"{at}c{c}.") for c in range(count)]
        blocks.append(block)
    return blocks


def locate(blocks: list, path: str) -> tuple[list, int]:
    """The list holding the block at ``path`` (``3``, ``4.c1.0``) and its index there."""
    parts = path.split(".")
    holder = blocks
    while len(parts) > 1:
        block = holder[int(parts[0])]
        holder = block["columns"][int(parts[1][1:])]
        parts = parts[2:]
    return holder, int(parts[0])


def holder_of(blocks: list, path: str) -> list:
    """The column list ``4.c1`` names, or the top level for ``""``."""
    if not path:
        return blocks
    holder, index = locate(blocks, path.rpartition(".")[0])
    return holder[index]["columns"][int(path.rpartition(".")[2][1:])]


def apply(blocks: list, action: str, form, lang: str) -> list:
    """Add, move, duplicate or remove a block; a stale path changes nothing."""
    verb, _, path = action.partition(":")
    try:
        if verb == "add":
            where = path
            kind = form.get(f"add.{where}" if where else "add", "")
            allowed = IN_COLUMN if where else KINDS
            if kind in allowed:
                holder_of(blocks, where).append(new_block(kind, lang))
            return blocks
        holder, index = locate(blocks, path)
        if not 0 <= index < len(holder):
            return blocks
        if verb == "up" and index > 0:
            holder[index - 1], holder[index] = holder[index], holder[index - 1]
        elif verb == "down" and index < len(holder) - 1:
            holder[index + 1], holder[index] = holder[index], holder[index + 1]
        elif verb == "dup":
            holder.insert(index + 1, copy.deepcopy(holder[index]))
        elif verb == "del":
            del holder[index]
        elif verb == "cols" and holder[index]["type"] == "columns":
            columns = holder[index]["columns"]
            third = [{"type": "text", "text": "Columna 3" if lang == "es" else "Column 3"}]
            holder[index]["columns"] = columns[:2] if len(columns) == 3 else columns + [third]
    except (ValueError, IndexError, KeyError, TypeError):
        pass
    return blocks


def block_errors(failure: ApiFailure | None, lang: str) -> tuple[dict[str, list[str]], list[str]]:
    """({block path "4.c1.0": [messages]}, other messages) in the user's language."""
    if failure is None:
        return {}, []
    language = ui_locale()
    prefix = f"variants.{lang}.blocks."
    by_block: dict[str, list[str]] = {}
    other: list[str] = []
    described = failure.details.get("blocks") or []
    messages = [(p.get("field", ""), p.get(language) or p.get("en")) for p in described]
    seen = {field for field, _ in messages}
    messages += [(field, m) for field, ms in failure.fields.items() if field not in seen for m in ms]
    for field, message in messages:
        if field.startswith(prefix):
            tokens = field[len(prefix) :].split(".")
            path, i = [tokens[0]], 1
            while i + 2 < len(tokens) and tokens[i] == "columns" and tokens[i + 2].isdigit():
                path += [f"c{tokens[i + 1]}", tokens[i + 2]]
                i += 3
            by_block.setdefault(".".join(path), []).append(message)
        else:
            other.append(message)
    if not messages:
        other.append(failure.message)
    return by_block, other


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
