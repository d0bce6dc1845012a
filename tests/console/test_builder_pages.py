"""The block editor's form handling (blocks read back from a form, the actions) and its words
in both languages."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from services.console.i18n import EN
from services.console.messages_es import ES
from services.console.views import builder
from services.mailer import blocks_gallery
from services.mailer.blocks import MERGE_FIELDS, TYPES


def test_every_block_field_view_and_gallery_template_has_words_in_spanish_and_english():
    keys = [
        *(f"block_{k}" for k in builder.KINDS),
        *(f"merge_{f}" for f in builder.MERGE_FIELDS),
        *(f"view_{v}" for v in builder.VIEWS),
        *(f"gallery_{k}{end}" for k in blocks_gallery.GALLERY for end in ("", "_about")),
    ]
    assert [k for k in keys if k not in ES or k not in EN] == []
    # the editor offers what the mailer accepts
    assert set(builder.KINDS) == set(TYPES) and set(builder.MERGE_FIELDS) == set(MERGE_FIELDS)


def form(**fields) -> MultiDict:
    return MultiDict(fields)


def test_blocks_read_back_from_the_form_in_order_with_columns():
    data = form(
        **{
            "b.1.type": "button",
            "b.1.text": "Ir",
            "b.1.url": " https://tienda.example/ ",
            "b.0.type": "heading",
            "b.0.text": "¡Hola, {{first_name}}!",
            "b.0.level": "2",
            "b.2.type": "columns",
            "b.2.count": "2",
            "b.2.c0.0.type": "image",
            "b.2.c0.0.src": "https://x.example/a.png",
            "b.2.c0.0.alt": "Á",
            "b.2.c0.0.width": "",
            "b.2.c1.1.type": "spacer",
            "b.2.c1.1.height": "abc",
            "b.2.c1.0.type": "text",
            "b.2.c1.0.text": "Zoë",
            "b.10.type": "social",
            "b.10.links": "instagram https://instagram.com/t\n\nX https://x.com/t",
        }
    )
    blocks = builder.read_blocks(data)
    assert [b["type"] for b in blocks] == ["heading", "button", "columns", "social"]
    assert blocks[0] == {"type": "heading", "text": "¡Hola, {{first_name}}!", "level": 2}
    assert blocks[1]["url"] == "https://tienda.example/"
    assert blocks[2]["columns"] == [
        [{"type": "image", "src": "https://x.example/a.png", "alt": "Á"}],
        [{"type": "text", "text": "Zoë"}, {"type": "spacer", "height": "abc"}],
    ]
    assert blocks[3]["links"] == [
        {"network": "instagram", "url": "https://instagram.com/t"},
        {"network": "x", "url": "https://x.com/t"},
    ]


def test_actions_add_move_duplicate_remove_and_ignore_stale_paths():
    blocks = [
        {"type": "heading", "text": "a"},
        {"type": "text", "text": "b"},
        {"type": "columns", "columns": [[{"type": "text", "text": "c"}], [{"type": "text", "text": "d"}]]},
    ]
    builder.apply(blocks, "up:1", form(), "es")
    assert [b.get("text") for b in blocks[:2]] == ["b", "a"]
    builder.apply(blocks, "dup:2.c1.0", form(), "es")
    assert [b["text"] for b in blocks[2]["columns"][1]] == ["d", "d"]
    builder.apply(blocks, "add:2.c0", form(**{"add.2.c0": "button"}), "es")
    assert blocks[2]["columns"][0][-1]["type"] == "button"
    builder.apply(blocks, "add:2.c0", form(**{"add.2.c0": "footer"}), "es")  # not inside a column
    assert len(blocks[2]["columns"][0]) == 2
    builder.apply(blocks, "add", form(add="footer"), "es")
    assert blocks[-1]["type"] == "footer"
    builder.apply(blocks, "cols:2", form(), "en")
    assert len(blocks[2]["columns"]) == 3 and blocks[2]["columns"][2][0]["text"] == "Column 3"
    builder.apply(blocks, "del:0", form(), "es")
    before = [dict(b) for b in blocks]
    for stale in ("del:9", "up:0", "down:3", "dup:2.c7.0", "del:x", "up:1.c0.0"):
        builder.apply(blocks, stale, form(), "es")
    assert blocks == before
