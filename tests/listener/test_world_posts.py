"""Posts as the world writes them, through the real Mastodon client and the pipeline:
emoji only, a URL only, right-to-left and other scripts, decomposed accents, languages mixed."""

from __future__ import annotations

from services.listener.models import Mention
from tests.listener.test_sources import make_query

SPANISH_ONLY = [
    ("Me encanta el café #CafeLuna", "es", True),
    ("😡😡😡", None, True),  # no words: no language to judge, kept (the tag timeline found it)
    ("https://cafeluna.example/p/1", None, True),
    ("Pe\u0301simo servicio hoy #CafeLuna", "es", True),  # decomposed é
    ("La app es great pero el support es terrible #CafeLuna", "es", True),
    ("Loving the new latte at #CafeLuna", "en", False),
    ("خدمة سيئة جدا في #CafeLuna", "ar", False),  # Arabic, right to left
    ("שירות מצוין ב #CafeLuna", "he", False),  # Hebrew
    ("Ужасный сервис #CafeLuna", "ru", False),
    ("カフェルナ最高 #CafeLuna", "ja", False),
]


def test_a_query_in_spanish_keeps_spanish_and_wordless_posts_and_no_other_script(make_poller, fake):
    _, state = fake
    make_query(sources=["mastodon"], keywords=[], hashtags=["CafeLuna"], languages=["es"])
    for i, (text, lang, _kept) in enumerate(SPANISH_ONLY):
        state.add_status("cafeluna", text, acct=f"u{i}@social.example", lang=lang)
    make_poller().run_once()
    stored = {m.text: m for m in Mention.objects(source="mastodon")}
    expected = {text for text, _lang, kept in SPANISH_ONLY if kept}
    assert set(stored) == expected, (
        f"kept {sorted(set(stored) - expected)}, lost {sorted(expected - set(stored))}"
    )
    assert stored["😡😡😡"].label == "negative" and stored["😡😡😡"].lang == "und"
    assert stored["Pe\u0301simo servicio hoy #CafeLuna"].label == "negative"
    assert stored["https://cafeluna.example/p/1"].label == "neutral"


def test_a_feed_is_matched_on_whole_words_as_the_searched_sources_match(make_poller, fake):
    base, state = fake
    make_query(
        sources=["rss"], feeds=[f"{base}/feed.xml"], keywords=["SEAT", "カフェルナ"], hashtags=["Ibiza"]
    )
    for title in (
        "Nuevo SEAT León: probamos el híbrido",  # the brand
        "Los asientos, o seats, del tren nuevo",  # another word that contains it
        "Comfortable seating for everyone",
        "Fin de semana en #Ibiza",  # the hashtag
        "Lo mejor de #IbizaRocks",  # another hashtag
        "カフェルナ最高",  # no spaces between words: matched inside the text
    ):
        state.add_item(title, "")
    make_poller().run_once()
    assert sorted(m.text.split("\n")[0] for m in Mention.objects(source="rss")) == sorted(
        ["Nuevo SEAT León: probamos el híbrido", "Fin de semana en #Ibiza", "カフェルナ最高"]
    )
