"""Checking a block variant: every problem, in Spanish and English, with the field it is in.

The vocabulary (block types, fields, limits) is in ``services.mailer.blocks``.
"""

from __future__ import annotations

import re

import mjml

from services.mailer.blocks import (
    CONTENT_WIDTH,
    FIELDS,
    IN_COLUMN,
    MAX_BLOCKS,
    MAX_HTML,
    MAX_TEXT,
    MERGE_FIELDS,
    MERGE_RE,
    NETWORKS,
    TYPES,
    URL_RE,
    BlockProblem,
)
from services.mailer.blocks_compile import document, section
from services.mailer.rendering import HTML_ENV, sample_context
from shared.normalize import unsafe_character


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
            mjml.mjml2html(document([section(f"<mj-text>{source}</mj-text>")], "", self.locale))
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
