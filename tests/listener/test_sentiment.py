"""Sentiment and language on the phrases community managers care about."""

from __future__ import annotations

import pytest

from bench.listener.eval_sentiment import DEFAULT_SET, evaluate
from services.listener.sentiment import detect, detect_many, score


@pytest.mark.parametrize(
    "text, label",
    [
        ("Me encanta, el servicio es excelente", "positive"),
        ("me gusta", "positive"),
        ("no me gusta", "negative"),
        ("no me gusta nada", "negative"),
        ("Terrible atención, nunca más", "negative"),
        ("nunca más compro aquí", "negative"),
        ("muuuy buena la pizza", "positive"),
        ("q asco de servicio, xq nadie contesta??", "negative"),
        ("Súper contenta con la compra 😍", "positive"),
        ("jajaja me encanta", "positive"),
        ("¿A qué hora abre la tienda de Gran Vía?", "neutral"),
        ("no funciona la app 😡", "negative"),
        ("el diseño no es nada bueno", "negative"),
        ("buenísimo el café", "positive"),
        ("la atención fue pésima", "negative"),
        ("año nuevo, tienda nueva en el centro", "neutral"),
    ],
)
def test_spanish_key_phrases(text, label):
    assert score(text, "es").label == label, (text, score(text, "es"))


@pytest.mark.parametrize(
    "text, label",
    [
        ("I love it, great service", "positive"),
        ("I don't like the new design", "negative"),
        ("Never ordering again, package arrived broken", "negative"),
        ("sooo good 😍", "positive"),
        ("What time does the store open?", "neutral"),
        ("Unacceptable, still no refund 😡", "negative"),
    ],
)
def test_english_key_phrases(text, label):
    assert score(text, "en").label == label, (text, score(text, "en"))


def test_intensifiers_and_emphasis_raise_the_lexicon_score():
    """The lexicon engine's compound is one of the model's features."""
    from services.listener.sentiment.engine import score

    assert score("muy bueno", "es").score > score("bueno", "es").score > 0
    assert score("MALÍSIMO", "es").score < score("malo", "es").score < 0
    assert -1 <= score("horrible horrible horrible 😡😡😡!!!", "es").score <= 1


def test_accents_and_informal_spelling_score_the_same():
    assert score("pésimo servicio", "es").score == score("pesimo servicio", "es").score < 0
    assert score("muuuy bueno", "es").score == score("muy bueno", "es").score


@pytest.mark.parametrize(
    "text, lang",
    [
        ("ok gracias", "es"),
        ("no me gusta", "es"),
        ("muuuy buena la pizza de @ComidaYa", "es"),
        ("q tal", "es"),
        ("thanks a lot", "en"),
        ("I don't like it", "en"),
        ("https://x.com/a 😍😍", "und"),
    ],
)
def test_language_of_short_posts(text, lang):
    assert detect(text) == lang
    assert detect_many([text]) == [lang]


def test_the_source_language_is_used_only_when_the_text_cannot_tell():
    assert detect("😍👍", hint="en") == "en"
    assert detect("me encanta", hint="en") == "es"


def test_the_evaluation_set_meets_the_target_on_each_language():
    import json

    rows = [json.loads(line) for line in DEFAULT_SET.read_text(encoding="utf-8").splitlines() if line]
    assert len(rows) >= 8000 and sum(r["lang"] == "es" for r in rows) * 2 >= len(rows)
    first = [r for r in rows if "batch" not in r]
    assert len(first) >= 590
    results = evaluate(first)
    for lang in ("es", "en"):
        assert results[lang]["test"]["macro_f1"] >= 0.78, results  # held out: the model trains on "dev"
    # The whole set's held-out part. Its English side holds 1,414 posts of the batch
    # written in customers' voice that the English model does not train on (training on
    # them lowered the public English figures, bench/RESULTS.md): a lower floor there.
    results = evaluate(rows)
    assert results["es"]["test"]["macro_f1"] >= 0.85, results
    assert results["en"]["test"]["macro_f1"] >= 0.62, results
    for lang in ("es", "en"):
        assert results[lang]["test"]["recall_negative"] >= 0.55, results


@pytest.mark.parametrize(
    "text, question",
    [
        ("¿Alguien sabe si abren hoy? 🤔", True),
        ("¿Qué?👍🏽 \n", True),
        ("What time?", True),
        ("Genial 😍", False),
        ("¿De verdad? No lo creo.", False),
        ("😀", False),
        ("", False),
    ],
)
def test_a_question_is_read_at_the_end_past_emoji_and_spaces(text, question):
    from services.listener.sentiment.engine import ends_with_question

    assert ends_with_question(text) is question
