"""E-mails built from blocks: check a block document, compile it to MJML, then
to responsive HTML (``mjml-python``, the Rust MRML port) and to a plain-text
part from the same blocks.

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

import html as htmllib
import re
from html.parser import HTMLParser

import mjml

from services.mailer.rendering import HTML_ENV, RenderError, sample_context
from shared.normalize import unsafe_character

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


def _lang(locale: str) -> str:
    return "es" if str(locale).split("-")[0] == "es" else "en"


# --- checking ---------------------------------------------------------------------------------


class _Checker:
    def __init__(self, locale: str, sample: dict | None):
        self.locale = locale
        self.sample = sample
        self.problems: list[BlockProblem] = []

    def names(self, path: list[tuple[int, str]]) -> tuple[str, str]:
        if not path:
            return "correo", "e-mail"
        es, en = [], []
        for _depth, (index, kind) in enumerate(path):
            type_es, type_en = TYPES.get(kind, (kind, kind))
            if kind == "_column":
                es.append(f"columna {index + 1}")
                en.append(f"column {index + 1}")
            else:
                es.append(f"bloque {index + 1} ({type_es})")
                en.append(f"block {index + 1} ({type_en})")
        return ", ".join(es), ", ".join(en)

    def problem(self, field: str, path, es: str, en: str) -> None:
        name_es, name_en = self.names(path)
        self.problems.append(BlockProblem(field, name_es, name_en, es, en))

    def text(self, value, field, path, key, *, required=True, limit=MAX_TEXT) -> None:
        label_es, label_en = {
            "text": ("el texto", "the text"),
            "alt": ("el texto alternativo", "the alt text"),
            "html": ("el HTML", "the HTML"),
            "preheader": ("la línea de vista previa", "the preview line"),
        }.get(key, (key, key))
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(f"{field}.{key}", path, f"falta {label_es}", f"{label_en} is required")
            return
        if not isinstance(value, str):
            self.problem(f"{field}.{key}", path, f"{label_es} debe ser texto", f"{label_en} must be a string")
            return
        if len(value) > limit:
            self.problem(
                f"{field}.{key}",
                path,
                f"{label_es} pasa de {limit} caracteres",
                f"{label_en} is longer than {limit} characters",
            )
            return
        bad = unsafe_character(value, multiline=True)
        if bad:
            code = re.search(r"U\+[0-9A-F]{4,6}", bad)
            self.problem(
                f"{field}.{key}",
                path,
                f"{label_es} tiene un carácter no permitido{f' ({code.group(0)})' if code else ''}",
                f"{label_en} has a character that is not allowed ({bad})",
            )
            return
        if key != "html":
            for name in MERGE_RE.findall(value):
                if name not in MERGE_FIELDS:
                    self.problem(
                        f"{field}.{key}",
                        path,
                        f"«{name}» no es un campo de la lista ({', '.join(MERGE_FIELDS)})",
                        f"'{name}' is not a merge field from the list ({', '.join(MERGE_FIELDS)})",
                    )

    def url(self, value, field, path, key, *, required=True) -> None:
        label_es, label_en = {
            "src": ("la dirección de la imagen", "the image address"),
            "href": ("el enlace", "the link"),
            "url": ("la URL", "the URL"),
        }[key]
        if value in (None, ""):
            if required:
                self.problem(f"{field}.{key}", path, f"falta {label_es}", f"{label_en} is required")
            return
        if not isinstance(value, str) or len(value) > 2000:
            self.problem(f"{field}.{key}", path, f"{label_es} no es válida", f"{label_en} is not valid")
            return
        for name in MERGE_RE.findall(value):
            if name not in MERGE_FIELDS:
                self.problem(
                    f"{field}.{key}",
                    path,
                    f"«{name}» no es un campo de la lista",
                    f"'{name}' is not a merge field from the list",
                )
                return
        if not URL_RE.match(MERGE_RE.sub("x", value)):
            self.problem(
                f"{field}.{key}",
                path,
                f"{label_es} debe empezar por http:// o https://",
                f"{label_en} must start with http:// or https://",
            )

    def block(self, block, field: str, path: list, allowed: tuple[str, ...]) -> None:
        kind = block.get("type") if isinstance(block, dict) else None
        if not isinstance(block, dict) or kind not in TYPES or kind not in allowed:
            shown = kind if isinstance(kind, str) else "?"
            path = path[:-1] + [(path[-1][0], shown)]
            names = ", ".join(allowed)
            self.problem(
                f"{field}.type",
                path,
                f"tipo de bloque desconocido aquí (se admite: {names})",
                f"unknown block type here (allowed: {names})",
            )
            return
        path = path[:-1] + [(path[-1][0], kind)]
        unknown = sorted(set(block) - FIELDS[kind] - {"type", "id"})
        if unknown:
            self.problem(
                f"{field}.{unknown[0]}",
                path,
                f"campo desconocido «{unknown[0]}»",
                f"unknown field '{unknown[0]}'",
            )
        if "align" in block and block["align"] not in ("left", "center", "right"):
            self.problem(
                f"{field}.align",
                path,
                "la alineación es left, center o right",
                "align is left, center or right",
            )
        if kind == "heading":
            self.text(block.get("text"), field, path, "text", limit=300)
            if block.get("level", 1) not in (1, 2, 3):
                self.problem(f"{field}.level", path, "el nivel es 1, 2 o 3", "level is 1, 2 or 3")
        elif kind == "text":
            self.text(block.get("text"), field, path, "text")
        elif kind == "image":
            self.url(block.get("src"), field, path, "src")
            self.text(block.get("alt"), field, path, "alt", limit=300)
            self.url(block.get("href"), field, path, "href", required=False)
            width = block.get("width")
            if width is not None and (
                not isinstance(width, int) or isinstance(width, bool) or not 16 <= width <= CONTENT_WIDTH
            ):
                self.problem(
                    f"{field}.width",
                    path,
                    f"el ancho es un número de 16 a {CONTENT_WIDTH} píxeles",
                    f"width is a number of pixels from 16 to {CONTENT_WIDTH}",
                )
        elif kind == "button":
            self.text(block.get("text"), field, path, "text", limit=200)
            self.url(block.get("url"), field, path, "url")
        elif kind == "spacer":
            height = block.get("height", 24)
            if not isinstance(height, int) or isinstance(height, bool) or not 4 <= height <= 120:
                self.problem(
                    f"{field}.height",
                    path,
                    "la altura es un número de 4 a 120 píxeles",
                    "height is a number of pixels from 4 to 120",
                )
        elif kind == "social":
            links = block.get("links")
            if not isinstance(links, list) or not links:
                self.problem(f"{field}.links", path, "añade al menos un enlace", "add at least one link")
                return
            for i, link in enumerate(links[:20]):
                where = f"{field}.links.{i}"
                if not isinstance(link, dict) or link.get("network") not in NETWORKS:
                    self.problem(
                        f"{where}.network",
                        path,
                        f"red desconocida (se admite: {', '.join(NETWORKS)})",
                        f"unknown network (allowed: {', '.join(NETWORKS)})",
                    )
                    continue
                self.url(link.get("url"), where, path, "url")
        elif kind == "html":
            self.text(block.get("html"), field, path, "html", limit=MAX_HTML)
            source = block.get("html")
            if (
                isinstance(source, str)
                and source.strip()
                and not any(p.field.startswith(field) for p in self.problems)
            ):
                self.custom_html(source, field, path)
        elif kind == "footer":
            self.text(block.get("text"), field, path, "text", required=False, limit=1000)
        elif kind == "columns":
            columns = block.get("columns")
            if not isinstance(columns, list) or len(columns) not in (2, 3):
                self.problem(f"{field}.columns", path, "pon dos o tres columnas", "give two or three columns")
                return
            for c, column in enumerate(columns):
                if not isinstance(column, list):
                    self.problem(
                        f"{field}.columns.{c}",
                        path + [(c, "_column")],
                        "una columna es una lista de bloques",
                        "a column is a list of blocks",
                    )
                    continue
                for i, inner in enumerate(column[:MAX_BLOCKS]):
                    self.block(
                        inner, f"{field}.columns.{c}.{i}", path + [(c, "_column"), (i, "?")], IN_COLUMN
                    )

    def custom_html(self, source: str, field: str, path) -> None:
        try:
            HTML_ENV.from_string(source).render(sample_context(self.sample, self.locale))
        except Exception as exc:  # noqa: BLE001 - syntax, undefined, sandbox: each named below
            message = getattr(exc, "message", None) or str(exc)
            self.problem(
                f"{field}.html",
                path,
                f"la plantilla no se puede mostrar: {message}",
                f"the template does not render: {message}",
            )
            return
        try:
            mjml.mjml2html(_document([_section(f"<mj-text>{source}</mj-text>")], "", self.locale))
        except Exception as exc:  # noqa: BLE001 - the compiler's parse error
            self.problem(
                f"{field}.html",
                path,
                f"el HTML no está bien formado ({exc})",
                f"the HTML is not well formed ({exc})",
            )


def check(locale: str, variant: dict, sample: dict | None, prefix: str) -> list[BlockProblem]:
    """Every problem of a block variant (``prefix`` is ``variants.es``)."""
    checker = _Checker(locale, sample)
    blocks = variant.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        checker.problems.append(
            BlockProblem(
                f"{prefix}.blocks", "bloques", "blocks", "añade al menos un bloque", "add at least one block"
            )
        )
        return checker.problems
    if len(blocks) > MAX_BLOCKS:
        checker.problems.append(
            BlockProblem(
                f"{prefix}.blocks",
                "bloques",
                "blocks",
                f"como mucho {MAX_BLOCKS} bloques",
                f"at most {MAX_BLOCKS} blocks",
            )
        )
        return checker.problems
    for index, block in enumerate(blocks):
        checker.block(block, f"{prefix}.blocks.{index}", [(index, "?")], tuple(TYPES))
    if variant.get("preheader") is not None:
        checker.text(variant.get("preheader"), prefix, [], "preheader", required=False, limit=200)
    return checker.problems


def missing_footer(variant: dict) -> bool:
    """A block variant without the footer block (unsubscribe and preference-center links)."""
    return not any(isinstance(b, dict) and b.get("type") == "footer" for b in variant.get("blocks") or [])


# --- compiling --------------------------------------------------------------------------------


def _literal(text: str) -> str:
    """User text as HTML that Jinja leaves alone."""
    return htmllib.escape(text, quote=True).replace("{", "&#123;").replace("}", "&#125;")


def _merged_html(text: str) -> str:
    out, last = [], 0
    for match in MERGE_RE.finditer(text):
        out.append(_literal(text[last : match.start()]))
        out.append(f"{{{{ {MERGE_FIELDS[match.group(1)][0]} }}}}")
        last = match.end()
    out.append(_literal(text[last:]))
    return "".join(out)


def _merged_text(text: str) -> str:
    out, last = [], 0
    for match in MERGE_RE.finditer(text):
        out.append(text[last : match.start()].replace("{", "{{ '{' }}"))
        out.append(f"{{{{ {MERGE_FIELDS[match.group(1)][0]} }}}}")
        last = match.end()
    out.append(text[last:].replace("{", "{{ '{' }}"))
    return "".join(out)


def _url_html(url: str) -> str:
    out, last = [], 0
    for match in MERGE_RE.finditer(url):
        out.append(_literal(url[last : match.start()]))
        out.append(f"{{{{ {MERGE_FIELDS[match.group(1)][0]}|urlencode }}}}")
        last = match.end()
    out.append(_literal(url[last:]))
    return "".join(out)


def _url_text(url: str) -> str:
    out, last = [], 0
    for match in MERGE_RE.finditer(url):
        out.append(url[last : match.start()].replace("{", "%7B"))
        out.append(f"{{{{ {MERGE_FIELDS[match.group(1)][0]}|urlencode }}}}")
        last = match.end()
    out.append(url[last:].replace("{", "%7B"))
    return "".join(out)


def _paragraphs(text: str) -> list[str]:
    return [p.strip("\n") for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()) if p.strip()]


def _section(columns_mjml: str | list[str], css: str = "vb-paper") -> str:
    columns = [columns_mjml] if isinstance(columns_mjml, str) else columns_mjml
    inner = "".join(f'<mj-column padding="0px">{c}</mj-column>' for c in columns)
    return f'<mj-section background-color="{PAPER}" padding="6px 0px" css-class="{css}">{inner}</mj-section>'


def _block_mjml(block: dict, width: int, lang: str) -> str:
    kind = block["type"]
    align = block.get("align") or "left"
    if kind == "heading":
        level = block.get("level", 1)
        size = {1: 28, 2: 22, 3: 18}[level]
        return (
            f'<mj-text align="{align}" color="{INK}" font-size="{size}px" line-height="1.3">'
            f'<h{level} style="margin:0;font-size:{size}px;font-weight:700;color:{INK};">'
            f"{_merged_html(block['text'])}</h{level}></mj-text>"
        )
    if kind == "text":
        body = "".join(
            f'<p style="margin:0 0 12px 0;">{_merged_html(p).replace(chr(10), "<br>")}</p>'
            for p in _paragraphs(block["text"])
        )
        return f'<mj-text align="{align}" color="{INK}" font-size="16px" line-height="1.5">{body}</mj-text>'
    if kind == "image":
        shown = min(block.get("width") or width, width)
        href = f' href="{_url_html(block["href"])}"' if block.get("href") else ""
        return (
            f'<mj-image src="{_url_html(block["src"])}" alt="{_literal(block["alt"])}" width="{shown}px"'
            f"{href} />"
        )
    if kind == "button":
        return (
            f'<mj-button href="{_url_html(block["url"])}" align="{block.get("align") or "center"}" '
            f'background-color="{ACCENT}" color="#ffffff" font-size="16px" font-weight="700" '
            f'inner-padding="12px 24px" border-radius="6px" css-class="vb-button">'
            f"{_merged_html(block['text'])}</mj-button>"
        )
    if kind == "divider":
        return f'<mj-divider border-color="{RULE}" border-width="1px" />'
    if kind == "spacer":
        return f'<mj-spacer height="{block.get("height", 24)}px" />'
    if kind == "social":
        links = " · ".join(
            f'<a href="{_url_html(link["url"])}" style="color:{ACCENT};">{NETWORKS[link["network"]]}</a>'
            for link in block["links"]
        )
        return f'<mj-text align="center" color="{INK}" font-size="15px">{links}</mj-text>'
    if kind == "html":
        return f'<mj-text color="{INK}" font-size="16px" line-height="1.5">{block["html"]}</mj-text>'
    if kind == "footer":
        unsubscribe, preferences = FOOTER_LINKS[lang]
        who = f"{_merged_html(block['text']).replace(chr(10), '<br>')}<br>" if block.get("text") else ""
        return (
            f'<mj-text align="center" color="{MUTED}" font-size="12px" line-height="1.6">{who}'
            f'<a href="{{{{ unsubscribe_url }}}}" style="color:{MUTED};">{unsubscribe}</a> · '
            f'<a href="{{{{ preferences_url }}}}" style="color:{MUTED};">{preferences}</a></mj-text>'
        )
    raise ValueError(kind)


def _document(sections: list[str], preheader: str, locale: str) -> str:
    preview = f"<mj-preview>{_merged_html(preheader)}</mj-preview>" if preheader else ""
    return (
        f'<mjml lang="{locale}"><mj-head>{preview}'
        '<mj-raw><meta name="color-scheme" content="light dark">'
        '<meta name="supported-color-schemes" content="light dark"></mj-raw>'
        '<mj-attributes><mj-all font-family="Helvetica, Arial, sans-serif" />'
        f'<mj-text padding="8px {SIDE}px" /><mj-image padding="8px {SIDE}px" />'
        f'<mj-button padding="12px {SIDE}px" /><mj-divider padding="12px {SIDE}px" /></mj-attributes>'
        f"<mj-style>{DARK_CSS}</mj-style></mj-head>"
        f'<mj-body background-color="{CANVAS}" width="{CONTENT_WIDTH}px" css-class="vb-canvas">'
        f"{''.join(sections)}</mj-body></mjml>"
    )


def to_mjml(variant: dict, locale: str) -> str:
    lang = _lang(locale)
    sections = []
    for block in variant["blocks"]:
        if block["type"] == "columns":
            columns = block["columns"]
            width = CONTENT_WIDTH // len(columns) - 2 * SIDE
            sections.append(
                _section(["".join(_block_mjml(b, width, lang) for b in column) for column in columns])
            )
        else:
            css = "vb-paper vb-footer" if block["type"] == "footer" else "vb-paper"
            sections.append(_section(_block_mjml(block, CONTENT_WIDTH - 2 * SIDE, lang), css))
    return _document(sections, variant.get("preheader") or "", locale)


class _TextOf(HTMLParser):
    """Visible text of custom HTML, for the text part (Jinja tags pass through as text)."""

    BREAKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "table"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self.skip += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)

    def text(self) -> str:
        lines = [" ".join(line.split()) for line in "".join(self.parts).split("\n")]
        return "\n".join(line for line in lines if line)


def _block_text(block: dict, lang: str) -> list[str]:
    kind = block["type"]
    if kind == "heading":
        return [_merged_text(block["text"])]
    if kind == "text":
        return [_merged_text(p) for p in _paragraphs(block["text"])]
    if kind == "image":
        return [
            f"[{_merged_text(block['alt'])}]" + (f" {_url_text(block['href'])}" if block.get("href") else "")
        ]
    if kind == "button":
        return [f"{_merged_text(block['text'])}: {_url_text(block['url'])}"]
    if kind == "divider":
        return ["----------"]
    if kind == "spacer":
        return []
    if kind == "social":
        return [
            "\n".join(f"{NETWORKS[link['network']]}: {_url_text(link['url'])}" for link in block["links"])
        ]
    if kind == "html":
        parser = _TextOf()
        parser.feed(block["html"])
        parser.close()
        return [parser.text()] if parser.text() else []
    if kind == "footer":
        unsubscribe, preferences = FOOTER_LINKS[lang]
        who = [_merged_text(block["text"])] if block.get("text") else []
        return [*who, f"{unsubscribe}: {{{{ unsubscribe_url }}}}\n{preferences}: {{{{ preferences_url }}}}"]
    if kind == "columns":
        return [part for column in block["columns"] for b in column for part in _block_text(b, lang)]
    raise ValueError(kind)


def to_text(variant: dict, locale: str) -> str:
    lang = _lang(locale)
    parts = [part for block in variant["blocks"] for part in _block_text(block, lang)]
    return "\n\n".join(parts) + "\n"


def compile_variant(locale: str, variant: dict) -> dict:
    """A checked block variant -> the {subject, html, text, from_name} a send renders."""
    try:
        html = mjml.mjml2html(to_mjml(variant, locale))
    except Exception as exc:  # noqa: BLE001 - only custom HTML can break the document; checked block by block
        raise RenderError("blocks", f"the blocks do not compile: {exc}", None, locale) from None
    out = {"subject": variant["subject"], "html": html, "text": to_text(variant, locale)}
    if variant.get("from_name"):
        out["from_name"] = variant["from_name"]
    return out


__all__ = [
    "BlockProblem",
    "BlocksInvalid",
    "MARKETING_TOPICS",
    "MERGE_FIELDS",
    "TYPES",
    "check",
    "compile_variant",
    "missing_footer",
    "to_mjml",
    "to_text",
    "uses_blocks",
]
