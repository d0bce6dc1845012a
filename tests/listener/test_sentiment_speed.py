"""The faster paths of scoring give exactly what the plain ones give: vader.py's port
against vaderSentiment's own polarity_scores, to the last bit."""

from __future__ import annotations

import json
import random

import pytest

from bench.listener.eval_sentiment import DEFAULT_SET
from services.listener.sentiment import vader
from services.listener.sentiment.engine import analyzer

# Words that trigger each of VADER's rules, in both engines' vocabularies.
RULES = (
    "no not never so this without doubt least at very but BUT kind of sort KIND the shit bomb bad ass "
    "badass cut mustard good GOOD great terrible BAD isn't don't nor or extremely EXTREMELY slightly "
    "kinda hate love LOVE :) :( :D <3 😍 😡 👍 ! ?!! good! (bad) ...great... yeah right no,"
    " not_ very_good bus stop hardly barely totally ok thanks refund never_again"
).split()


def _posts():
    rows = [json.loads(line) for line in DEFAULT_SET.read_text(encoding="utf-8").splitlines()]
    texts = [row["text"] for row in rows]
    rng = random.Random(19)
    generated = [" ".join(rng.choice(RULES) for _ in range(rng.randint(1, 14))) for _ in range(4000)]
    return texts, generated


@pytest.mark.parametrize("side", ["english", "spanish"])
def test_the_vader_port_gives_the_library_figures(side):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    a = analyzer()
    engine = getattr(a, side)
    texts, generated = _posts()
    inputs = texts + generated + [a.english_text(t) for t in texts] + [a.front.rewrite(t) for t in texts]
    for text in inputs:
        expected = SentimentIntensityAnalyzer.polarity_scores(engine, text)
        assert vader.polarity_scores(engine, text) == expected, text


def test_remembered_crc32s_give_the_same_buckets_in_the_same_order():
    from services.listener.sentiment.features import clean, hashed, hashed_fast, words

    texts, generated = _posts()
    for text in texts + generated + ["", "uno", "año ñandú 😍 😍 l'été"]:
        tokens = ["s:" + t for t in words(clean(text))] + ["e:" + t for t in text.split()]
        assert list(hashed_fast(tokens).items()) == list(hashed(tokens).items()), text
