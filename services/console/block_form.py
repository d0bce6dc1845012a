"""The block editor's form: the blocks a form holds, the buttons that change them, the errors at each.

Blocks travel as form fields ``b.<path>.<name>`` (path ``3``, or ``4.c1.0`` for
the first block of the second column of block 4). ``read_blocks`` turns a
posted form into the mailer's blocks, ``apply`` runs the pressed button (add,
move, duplicate, remove, a third column), ``new_block`` fills an added block
with words to replace, and ``block_errors`` places the mailer's refusals at
their block (in the language of the person's session). The routes and the page
are services/console/views/builder.py.
"""

from __future__ import annotations

import copy

from services.console.client import ApiFailure
from services.console.i18n import locale as ui_locale

KINDS = ("heading", "text", "image", "button", "columns", "divider", "spacer", "social", "html", "footer")
IN_COLUMN = ("heading", "text", "image", "button", "divider", "spacer")


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
