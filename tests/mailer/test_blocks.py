"""E-mails built from blocks: checks naming the block, MJML -> HTML with merge fields intact,
a text part matching the HTML, the footer rule for marketing topics, drafts apart from what
campaigns send, and the gallery."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from services.mailer import blocks_gallery
from services.mailer.models import Delivery, Template
from tests.mailer.conftest import make_customer, send_requested

FOOTER = {"type": "footer", "text": "Tienda Núñez S.L. · Calle Mayor 1, Madrid"}


def es_variant(*extra, footer=True, heading="¡Hola, {{first_name}}!") -> dict:
    blocks = [
        {"type": "heading", "text": heading},
        {"type": "text", "text": "Tenemos novedades en {{city}} para ti.\n\nMira nuestras ofertas & más."},
        {
            "type": "image",
            "src": "https://tienda.example/cabecera.png",
            "alt": "Ofertas de otoño",
            "width": 600,
        },
        {"type": "button", "text": "Ver ofertas", "url": "https://tienda.example/o?n={{first_name}}&x=1"},
        {
            "type": "columns",
            "columns": [
                [{"type": "heading", "level": 3, "text": "Zapatos"}, {"type": "text", "text": "Desde 30 €"}],
                [
                    {"type": "heading", "level": 3, "text": "Bolsos"},
                    {"type": "text", "text": "Desde 45 € {llaves}"},
                ],
            ],
        },
        {"type": "divider"},
        {"type": "spacer", "height": 16},
        {"type": "social", "links": [{"network": "instagram", "url": "https://instagram.com/tienda"}]},
        *extra,
    ]
    if footer:
        blocks.append(FOOTER)
    return {"subject": "Novedades para {{ first_name }}", "from_name": "Tienda", "blocks": blocks}


def create_built(api, variant=None, **overrides):
    body = {
        "name": "Bloques",
        "channel": "email",
        "topic": "newsletter",
        "variants": {"es": variant or es_variant()},
        **overrides,
    }
    return api.post("/templates", json=body)


class VisibleText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.words, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("style", "title", "head")

    def handle_endtag(self, tag):
        self.skip -= tag in ("style", "title", "head")

    def handle_data(self, data):
        if not self.skip:
            self.words += data.split()


def words_of_html(html: str) -> list[str]:
    html = re.sub(r"<!--.*?-->", " ", html, flags=re.S)
    parser = VisibleText()
    parser.feed(html)
    return [w for w in parser.words if w != "·"]


def test_blocks_compile_to_responsive_html_with_merge_fields_intact(api):
    created = create_built(api)
    assert created.status_code == 201, created.get_json()
    version = created.get_json()["version"]
    assert version["variants"]["es"]["blocks"][0]["type"] == "heading"  # the block document is stored
    html = version["compiled"]["es"]["html"]
    # Jinja merge fields survive the compiler, in text and inside attributes
    assert "{{ first_name }}" in html and "{{ customer.city }}" in html
    assert 'href="https://tienda.example/o?n={{ first_name|urlencode }}&amp;x=1"' in html
    assert 'href="{{ unsubscribe_url }}"' in html and 'href="{{ preferences_url }}"' in html
    # tables, inline styles, images with width, a phone breakpoint, colour scheme declared
    assert "<table" in html and 'style="' in html and "@media only screen and (max-width:479px)" in html
    assert re.search(r'<img alt="Ofertas de otoño"[^>]* width="550"', html)
    assert re.search(r'<img[^>]*width="250"', html) is None  # no image in the columns here
    assert 'name="color-scheme" content="light dark"' in html and "prefers-color-scheme: dark" in html
    # in dark mode the button keeps white text on its own colour
    assert re.search(r'class="vb-button"[^>]*>.*?background:#1d4ed8;color:#ffffff', html, re.S)
    assert ".vb-paper .vb-button a" in html
    # user text is literal: escaped, and a brace never becomes Jinja
    assert "ofertas &amp; más" in html and "&#123;llaves&#125;" in html
    preview = api.post(
        f"/templates/{created.get_json()['id']}/preview",
        json={"sample": {"first_name": "Íñigo", "city": "Logroño"}},
    ).get_json()
    assert "¡Hola, Íñigo!" in preview["html"] and "novedades en Logroño" in preview["html"]
    assert "n=%C3%8D%C3%B1igo&amp;x=1" in preview["html"] and "{llaves}" in preview["text"]
    assert preview["subject"] == "Novedades para Íñigo"


def test_text_part_matches_the_html_content(api):
    tid = create_built(api).get_json()["id"]
    preview = api.post(
        f"/templates/{tid}/preview", json={"sample": {"first_name": "Zoë", "city": "Cádiz"}}
    ).get_json()
    html_words = words_of_html(preview["html"])
    text = preview["text"]
    # the text part without what only a text part has: URLs, image alt in brackets, rules
    text_words = re.sub(r"https?://\S+|\[[^\]]*\]|-{5,}|·", " ", text).replace(":", " ").split()
    html_plain = [w.rstrip(":") for w in html_words]
    assert [w for w in text_words if w] == [w for w in html_plain if w]
    assert "Zoë" in text and "Cádiz" in text and "https://tienda.example/o?n=Zo%C3%AB&x=1" in text
    assert "[Ofertas de otoño]" in text and "Darse de baja: https://" in text


def test_bad_block_input_names_the_block_in_spanish_and_english(api):
    variant = es_variant()
    variant["blocks"][3] = {"type": "button", "text": "Ir", "url": "javascript:alert(1)"}
    variant["blocks"][2] = {"type": "image", "src": "https://tienda.example/x.png", "alt": " "}
    variant["blocks"][4]["columns"][1][0] = {"type": "video", "src": "x"}
    response = create_built(api, variant)
    assert response.status_code == 422
    body = response.get_json()
    fields = body["details"]["fields"]
    assert fields["variants.es.blocks.3.url"] == [
        "block 4 (button): the URL must start with http:// or https://"
    ]
    assert fields["variants.es.blocks.2.alt"] == ["block 3 (image): the alt text is required"]
    assert "variants.es.blocks.4.columns.1.0.type" in fields
    spanish = {p["field"]: p["es"] for p in body["details"]["blocks"]}
    assert (
        spanish["variants.es.blocks.3.url"] == "bloque 4 (botón): la URL debe empezar por http:// o https://"
    )
    assert spanish["variants.es.blocks.2.alt"] == "bloque 3 (imagen): falta el texto alternativo"
    assert spanish["variants.es.blocks.4.columns.1.0.type"].startswith(
        "bloque 5 (columnas), columna 2, bloque 1 (video): tipo de bloque desconocido"
    )
    assert body["message"].startswith("block 3 (image)") or body["message"].startswith("block 4")
    assert Template.objects.count() == 0  # nothing half-written
    # an unknown merge field, a bidi override, custom HTML that does not parse or render
    for block, field, needle in (
        (
            {"type": "text", "text": "Hola {{codigo}}"},
            "variants.es.blocks.8.text",
            "'codigo' is not a merge field",
        ),
        # (refused by the shared input layer before the blocks are read: the field path names the block)
        ({"type": "heading", "text": "Hola\u202e"}, "variants.es.blocks.8.text", "U+202E"),
        ({"type": "html", "html": "<p>sin cerrar"}, "variants.es.blocks.8.html", "not well formed"),
        (
            {"type": "html", "html": "<p>{{ codigo }}</p>"},
            "variants.es.blocks.8.html",
            "'codigo' is undefined",
        ),
        ({"type": "spacer", "height": 999}, "variants.es.blocks.8.height", "4 to 120"),
    ):
        response = create_built(api, es_variant(block))
        assert response.status_code == 422, block
        found = response.get_json()["details"]["fields"]
        assert field in found and needle in found[field][0], found
        assert found[field][0].startswith("block 9 (") or needle == "U+202E"
    # the whole request is not a 500 for junk in place of blocks
    for junk in ("x", [1, None], [{"type": None}], [{"type": "columns", "columns": [["a"], 3]}]):
        response = create_built(api, {"subject": "x", "blocks": junk})
        assert response.status_code == 422, junk


def test_custom_html_block_stays_sandboxed(api):
    ok = create_built(
        api, es_variant({"type": "html", "html": '<p style="color:#333">Hola {{ first_name }}</p>'})
    )
    assert ok.status_code == 201, ok.get_json()
    escape = create_built(api, es_variant({"type": "html", "html": "<p>{{ ''.__class__.__mro__ }}</p>"}))
    assert escape.status_code == 422
    assert "variants.es.blocks.8.html" in escape.get_json()["details"]["fields"]


def test_no_footer_cannot_be_published_for_a_marketing_topic(api):
    variant = es_variant(footer=False)
    refused = create_built(api, variant)
    assert refused.status_code == 422
    body = refused.get_json()
    assert body["error"] == "footer_missing" and body["details"]["missing_block"] == "footer"
    assert "footer block" in body["details"]["fields"]["variants.es.blocks"][0]
    assert "falta el bloque pie" in body["details"]["blocks"][0]["es"]
    assert Template.objects.count() == 0
    # a template whose topic is not said counts as marketing
    unsaid = api.post(
        "/templates", json={"name": "Sin tema", "channel": "email", "variants": {"es": variant}}
    )
    assert unsaid.status_code == 422 and unsaid.get_json()["error"] == "footer_missing"
    # a service message may go without it; a draft may be saved without it
    assert create_built(api, variant, topic="service", name="Servicio").status_code == 201
    draft = create_built(api, variant, draft=True, name="Borrador").get_json()
    assert draft["published_version"] is None and draft["draft"]["variants"]["es"]["blocks"]
    publish = api.post(f"/templates/{draft['id']}/draft/publish", json={})
    assert publish.status_code == 422 and publish.get_json()["error"] == "footer_missing"
    assert Template.objects(id=draft["id"]).first().published_version is None
    # an unpublished version without it cannot be published for promotions either
    plain = create_built(api, variant, topic="service", name="Otro", publish=False).get_json()
    assert api.patch(f"/templates/{plain['id']}", json={"topic": "promotions"}).status_code == 200
    refused = api.post(f"/templates/{plain['id']}/versions/1/publish")
    assert refused.status_code == 422 and refused.get_json()["details"]["missing_block"] == "footer"


def test_draft_edit_never_changes_what_a_running_campaign_sends(api, events, sender_for, smtp_server):
    created = create_built(api).get_json()
    tid = created["id"]
    people = [
        make_customer(
            email=f"cliente{i}@ejemplo.es",
            first_name=name,
            consent={("email", "newsletter"): "granted"},
            events=events,
        )
        for i, name in enumerate(("Begoña", "Ñandú", "Zoë"))
    ]
    sender = sender_for()
    sender.on_send_requested(send_requested(tid, [people[0].id], campaign_id="otoño", batch=0))
    # the marketer edits the draft and even publishes it while the campaign runs
    edited = es_variant(heading="VERSIÓN NUEVA {{first_name}}")
    saved = api.put(f"/templates/{tid}/draft", json={"variants": {"es": edited}})
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["published_version"] == 1
    preview = api.post(f"/templates/{tid}/preview", json={"draft": True}).get_json()
    assert preview["version"] == 0 and "VERSIÓN NUEVA Lucía" in preview["html"]
    assert "VERSIÓN NUEVA" not in api.post(f"/templates/{tid}/preview", json={}).get_json()["html"]
    sender.on_send_requested(send_requested(tid, [people[1].id], campaign_id="otoño", batch=1))
    published = api.post(f"/templates/{tid}/draft/publish", json={})
    assert published.status_code == 200 and published.get_json()["published_version"] == 2
    assert published.get_json()["draft"]["from_version"] == 2  # the draft is gone: a copy of v2 to edit
    sender.on_send_requested(send_requested(tid, [people[2].id], campaign_id="otoño", batch=2))
    # a campaign that starts now sends the new version
    sender.on_send_requested(send_requested(tid, [people[0].id], campaign_id="invierno"))
    for person in people:
        received = smtp_server.mailbox.to(person.email)
        message = received[0].parsed()
        html = message.get_body(("html",)).get_content()
        assert "VERSIÓN NUEVA" not in html and f"¡Hola, {person.first_name}!" in html
        assert f"¡Hola, {person.first_name}!" in message.get_body(("plain",)).get_content()
    newest = smtp_server.mailbox.to(people[0].email)[-1].parsed().get_body(("html",)).get_content()
    assert f"VERSIÓN NUEVA {people[0].first_name}" in newest
    assert {d.template_version for d in Delivery.objects(campaign_id="otoño")} == {1}
    assert Delivery.objects(campaign_id="invierno").first().template_version == 2


def test_gallery_templates_copy_into_drafts_in_spanish_and_english(api):
    listed = api.get("/templates/gallery").get_json()["items"]
    assert {i["key"] for i in listed} == {"newsletter", "offer", "welcome", "event"}
    assert all(i["locales"] == ["en", "es"] for i in listed)
    for key in blocks_gallery.GALLERY:
        copied = api.post(f"/templates/gallery/{key}", json={"name": f"Mi {key}"})
        assert copied.status_code == 201, copied.get_json()
        body = copied.get_json()
        assert body["published_version"] is None and body["draft"]["compiled"]["en"]["html"]
        es = api.post(
            f"/templates/{body['id']}/preview", json={"draft": True, "sample": {"first_name": "Álvaro"}}
        )
        assert es.status_code == 200 and "Álvaro" in es.get_json()["subject"]
        assert api.post(f"/templates/{body['id']}/draft/publish", json={}).status_code == 200
    assert api.post("/templates/gallery/nope", json={}).status_code == 404


def test_only_a_marketer_edits_drafts_publishes_or_copies_from_the_gallery(app, api):
    from tests.mailer.conftest import Api
    from tests.support import ANALYST_KEY

    tid = create_built(api, draft=True).get_json()["id"]
    analyst = Api(app.test_client(), ANALYST_KEY)
    assert analyst.put(f"/templates/{tid}/draft", json={"variants": {"es": es_variant()}}).status_code == 403
    assert analyst.post(f"/templates/{tid}/draft/publish", json={}).status_code == 403
    assert analyst.delete(f"/templates/{tid}/draft").status_code == 403
    assert analyst.post("/templates/gallery/offer", json={}).status_code == 403
    assert analyst.get("/templates/gallery").status_code == 200
    assert analyst.post(f"/templates/{tid}/preview", json={"draft": True}).status_code == 200
    assert Template.objects(id=tid).first().published_version is None
    # discarding the draft leaves nothing to publish
    assert api.delete(f"/templates/{tid}/draft").status_code == 200
    assert api.post(f"/templates/{tid}/draft/publish", json={}).status_code == 409


def test_emoji_and_right_to_left_text_survive_the_compiler(api):
    variant = es_variant(heading="🎉 مرحبا {{first_name}} שלום")
    created = create_built(
        api,
        {**variant, "subject": "🎉 {{ first_name }}"},
        fallback_locale="ar",
        variants={"ar": {**variant, "subject": "🎉 {{ first_name }}"}},
    )
    assert created.status_code == 201, created.get_json()
    html = created.get_json()["version"]["compiled"]["ar"]["html"]
    assert 'lang="ar"' in html and 'dir="auto"' in html
    preview = api.post(
        f"/templates/{created.get_json()['id']}/preview", json={"sample": {"first_name": "Zoë 😀"}}
    ).get_json()
    assert "🎉 مرحبا Zoë 😀 שלום" in preview["html"] and "🎉 مرحبا Zoë 😀 שלום" in preview["text"]
    assert "Unsubscribe: https://" in preview["text"]  # not Spanish: the footer speaks English outside es
