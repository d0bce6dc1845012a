"""E-mails built from blocks: the vocabulary (block types, fields, limits, styles).
Checking a block document is ``blocks_check``; compiling it to MJML, then to
responsive HTML (``mjml-python``, the Rust MRML port) and to a plain-text part
from the same blocks, is ``blocks_compile``.

A variant built from blocks is ``{"subject", "from_name"?, "preheader"?,
"blocks": [...]}``; the block document is what is stored and versioned, and
``compile_variant`` turns it, once per saved version, into the ``{subject,
html, text, from_name}`` a send renders (with the same strict, sandboxed
Jinja as hand-written templates: merge fields stay ``{{ first_name }}`` in
the compiled HTML and are filled per message).

Blocks (``type`` and their fields):

* ``heading``: ``text``, ``level`` 1-3;
* ``text``: ``text`` (blank line = new paragraph), merge fields written
  ``{{first_name}}`` from ``MERGE_FIELDS``;
* ``image``: ``src`` (http/https), ``alt`` (required), ``href``, ``width``;
* ``button``: ``text``, ``url`` (http/https);
* ``columns``: ``columns`` (two or three lists of heading/text/image/button/
  divider/spacer blocks), stacked on a phone;
* ``divider``; ``spacer`` (``height`` 4-120 px);
* ``social``: ``links`` [{``network``, ``url``}];
* ``html``: ``html``, custom HTML with Jinja, sandboxed like hand-written templates;
* ``footer``: ``text`` (who sends it); always carries the unsubscribe and
  preference-center links. A marketing template must have one.

User text is literal: ``<``, ``&`` are escaped, and a ``{`` never starts a
Jinja tag; only the listed merge fields become Jinja.
"""

from __future__ import annotations

import re

MARKETING_TOPICS = ("newsletter", "promotions")
# merge field -> (Jinja expression, Spanish label, English label); as customer documents hold them
MERGE_FIELDS = {
    "first_name": ("first_name", "nombre", "first name"),
    "last_name": ("last_name", "apellidos", "last name"),
    "name": ("name", "nombre completo", "full name"),
    "email": ("customer.email", "correo electrónico", "e-mail"),
    "city": ("customer.city", "ciudad", "city"),
    "country": ("customer.country", "país", "country"),
}
TYPES = {  # type -> (Spanish, English) names, for messages
    "heading": ("título", "heading"),
    "text": ("texto", "text"),
    "image": ("imagen", "image"),
    "button": ("botón", "button"),
    "columns": ("columnas", "columns"),
    "divider": ("separador", "divider"),
    "spacer": ("espacio", "spacer"),
    "social": ("redes sociales", "social links"),
    "html": ("HTML propio", "custom HTML"),
    "footer": ("pie", "footer"),
}
FIELDS = {
    "heading": {"text", "level", "align"},
    "text": {"text", "align"},
    "image": {"src", "alt", "href", "width"},
    "button": {"text", "url", "align"},
    "columns": {"columns"},
    "divider": set(),
    "spacer": {"height"},
    "social": {"links"},
    "html": {"html"},
    "footer": {"text"},
}
IN_COLUMN = ("heading", "text", "image", "button", "divider", "spacer")
NETWORKS = {
    "x": "X",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "linkedin": "LinkedIn",
    "youtube": "YouTube",
    "tiktok": "TikTok",
    "mastodon": "Mastodon",
    "web": "Web",
}
MAX_BLOCKS = 100
MAX_TEXT = 5000
MAX_HTML = 50_000
FOOTER_LINKS = {
    "es": ("Darse de baja", "Preferencias de correo"),
    "en": ("Unsubscribe", "E-mail preferences"),
}

# Colours: every text has its own background set (a dark-mode client that inverts one never
# leaves dark text on its own dark background); clients that honour prefers-color-scheme get
# a dark palette from the style block.
INK, MUTED, PAPER, CANVAS, ACCENT, RULE = "#1f2933", "#52606d", "#ffffff", "#f2f4f7", "#1d4ed8", "#d0d5dd"
CONTENT_WIDTH = 600
SIDE = 25  # px of padding either side of a block
DARK_CSS = (
    ":root { color-scheme: light dark; supported-color-schemes: light dark; }"
    "@media (prefers-color-scheme: dark) {"
    " .vb-canvas, .vb-canvas > div { background-color: #111418 !important; }"
    " .vb-paper, .vb-paper > table, .vb-paper td { background-color: #1b1f24 !important; }"
    " .vb-paper div, .vb-paper h1, .vb-paper h2, .vb-paper h3, .vb-paper p { color: #e6e8eb !important; }"
    " .vb-paper a { color: #8fb3ff !important; }"
    " .vb-paper .vb-button a, .vb-paper .vb-button p { color: #ffffff !important; } }"
)
MERGE_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")
URL_RE = re.compile(r"^https?://[^\s<>\"'`{}|\\^]+$", re.IGNORECASE)


class BlockProblem:
    """One problem with one block: where (field path), which block, and the message in es and en."""

    def __init__(self, field: str, name_es: str, name_en: str, es: str, en: str):
        self.field = field
        self.es = f"{name_es}: {es}"
        self.en = f"{name_en}: {en}"

    def as_detail(self) -> dict:
        return {"field": self.field, "es": self.es, "en": self.en}


class BlocksInvalid(ValueError):
    def __init__(self, problems: list[BlockProblem]):
        super().__init__("; ".join(p.en for p in problems))
        self.problems = problems


def uses_blocks(variant) -> bool:
    return isinstance(variant, dict) and "blocks" in variant


def language(locale: str) -> str:
    return "es" if str(locale).split("-")[0] == "es" else "en"


def missing_footer(variant: dict) -> bool:
    """A block variant without the footer block (unsubscribe and preference-center links)."""
    return not any(isinstance(b, dict) and b.get("type") == "footer" for b in variant.get("blocks") or [])
