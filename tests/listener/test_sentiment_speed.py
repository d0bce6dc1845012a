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


def _begins_with_a_letter(items) -> bool:
    from re import _constants as c

    op, av = items[0]
    if op is c.LITERAL:
        return chr(av).isalpha()
    if op is c.SUBPATTERN:
        return _begins_with_a_letter(list(av[-1]))
    if op is c.BRANCH:
        return all(_begins_with_a_letter(list(alt)) for alt in av[1])
    return False


def _begins_at_a_word(items) -> bool:
    """Every way through the pattern starts with \\b and then a letter."""
    from re import _constants as c

    op, av = items[0]
    if op is c.SUBPATTERN:
        return _begins_at_a_word(list(av[-1]))
    if op is c.BRANCH:
        return all(_begins_at_a_word(list(alt)) for alt in av[1])
    return op is c.AT and av is c.AT_BOUNDARY and _begins_with_a_letter(items[1:])


def test_complaint_patterns_find_what_the_plain_alternatives_find():
    import re
    from re import _parser

    from services.listener.sentiment import features

    texts, generated = _posts()
    cleaned = [features.clean(t) for t in texts + generated]
    for side, plain in (("es", features._ES_COMPLAINTS), ("en", features._EN_COMPLAINTS)):
        for pattern in plain:
            assert _begins_at_a_word(list(_parser.parse(pattern))), pattern
        alternatives = re.compile("|".join(f"(?:{p})" for p in plain))
        quick = features.PATTERNS[side]["complaint"]
        assert quick.pattern != alternatives.pattern
        found = 0
        for text in cleaned:
            expected = [m.span() for m in alternatives.finditer(text)]
            assert [m.span() for m in quick.finditer(text)] == expected, text
            found += bool(expected)
        assert found > 50


def test_the_quick_text_helpers_change_nothing():
    from services.listener.sentiment import text as t
    from services.listener.sentiment.features import _REPEAT, repeated_marks

    texts, generated = _posts()
    samples = (
        texts
        + generated
        + ["WWW.x.com hola", "HTTPſ://a.b c", "a@b @c", "soooo", "!!!", "ok…", "a..", "b...", "?!", ""]
    )
    for s in samples + [s.lower() for s in samples]:
        assert t.strip_urls(s) == t.URL_RE.sub(" ", s)
        assert t.strip_handles(s) == t.HANDLE_RE.sub(" ", s)
        assert t.strip_emoji_noise(s) == t._EMOJI_NOISE.sub("", s)
        assert repeated_marks(s) == bool(_REPEAT.search(s))
        for keep in (1, 2):
            assert t.squeeze(s, keep) == t._RUN3.sub(lambda m, k=keep: m.group(1) * k, s)
