"""Compiling a block variant: to MJML, then responsive HTML (``mjml-python``), and a
plain-text part from the same blocks. User text is literal; only the listed merge
fields become Jinja (see ``services.mailer.blocks``).
"""

from __future__ import annotations

import html as htmllib
import re
from html.parser import HTMLParser

import mjml

from services.mailer.blocks import (
    ACCENT,
    CANVAS,
    CONTENT_WIDTH,
    DARK_CSS,
    FOOTER_LINKS,
    INK,
    MERGE_FIELDS,
    MERGE_RE,
    MUTED,
    NETWORKS,
    PAPER,
    RULE,
    SIDE,
    language,
)
from services.mailer.rendering import RenderError


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


def section(columns_mjml: str | list[str], css: str = "vb-paper") -> str:
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


def document(sections: list[str], preheader: str, locale: str) -> str:
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
    lang = language(locale)
    sections = []
    for block in variant["blocks"]:
        if block["type"] == "columns":
            columns = block["columns"]
            width = CONTENT_WIDTH // len(columns) - 2 * SIDE
            sections.append(
                section(["".join(_block_mjml(b, width, lang) for b in column) for column in columns])
            )
        else:
            css = "vb-paper vb-footer" if block["type"] == "footer" else "vb-paper"
            sections.append(section(_block_mjml(block, CONTENT_WIDTH - 2 * SIDE, lang), css))
    return document(sections, variant.get("preheader") or "", locale)


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
    lang = language(locale)
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
