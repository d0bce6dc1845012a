"""VADER's polarity_scores (vaderSentiment 3.3.2) with the same rules and the same
arithmetic in the same order, and each post's words lower-cased once.

VADER's own code lower-cases the whole post again for every look-back of every
lexicon word (``_negation_check`` and ``_special_idioms_check`` rebuild the list
each time) and copies the post one character at a time to replace emoji: half of
its cost on our posts. tests/listener/test_sentiment_speed.py checks this port
against the library's own method on every post of the own set and on generated
posts that exercise each rule ("no", "least", "but", "kind of", boosters,
capitals, idioms, emoji), to the last bit.
"""

from __future__ import annotations

import string

from vaderSentiment.vaderSentiment import BOOSTER_DICT, C_INCR, N_SCALAR, NEGATE, SPECIAL_CASES

_PUNCT = string.punctuation
_NEGATE = frozenset(NEGATE)


def _negated(word_lower: str) -> bool:
    return word_lower in _NEGATE or "n't" in word_lower


def _without_emoji(text: str, emojis: dict[str, str]) -> str:
    """VADER's replacement of each emoji by its description (a copy of its loop)."""
    if not emojis or emojis.keys().isdisjoint(text):
        return text.strip()
    out = ""
    prev_space = True
    for ch in text:
        if ch in emojis:
            if not prev_space:
                out += " "
            out += emojis[ch]
            prev_space = False
        else:
            out += ch
            prev_space = ch == " "
    return out.strip()


def _negation_check(valence, lower, start_i, i):
    if start_i == 0:
        if _negated(lower[i - 1]):
            valence = valence * N_SCALAR
    if start_i == 1:
        if lower[i - 2] == "never" and (lower[i - 1] == "so" or lower[i - 1] == "this"):
            valence = valence * 1.25
        elif lower[i - 2] == "without" and lower[i - 1] == "doubt":
            pass
        elif _negated(lower[i - 2]):
            valence = valence * N_SCALAR
    if start_i == 2:
        if (
            lower[i - 3] == "never"
            and (lower[i - 2] == "so" or lower[i - 2] == "this")
            or (lower[i - 1] == "so" or lower[i - 1] == "this")
        ):
            valence = valence * 1.25
        elif lower[i - 3] == "without" and (lower[i - 2] == "doubt" or lower[i - 1] == "doubt"):
            pass
        elif _negated(lower[i - 3]):
            valence = valence * N_SCALAR
    return valence


def _special_idioms_check(valence, lower, i):
    onezero = f"{lower[i - 1]} {lower[i]}"
    twoonezero = f"{lower[i - 2]} {lower[i - 1]} {lower[i]}"
    twoone = f"{lower[i - 2]} {lower[i - 1]}"
    threetwoone = f"{lower[i - 3]} {lower[i - 2]} {lower[i - 1]}"
    threetwo = f"{lower[i - 3]} {lower[i - 2]}"
    for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
        if seq in SPECIAL_CASES:
            valence = SPECIAL_CASES[seq]
            break
    if len(lower) - 1 > i:
        zeroone = f"{lower[i]} {lower[i + 1]}"
        if zeroone in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroone]
    if len(lower) - 1 > i + 1:
        zeroonetwo = f"{lower[i]} {lower[i + 1]} {lower[i + 2]}"
        if zeroonetwo in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroonetwo]
    for n_gram in (threetwoone, threetwo, twoone):
        if n_gram in BOOSTER_DICT:
            valence = valence + BOOSTER_DICT[n_gram]
    return valence


def _least_check(valence, lower, lexicon, i):
    if i > 1 and lower[i - 1] not in lexicon and lower[i - 1] == "least":
        if lower[i - 2] != "at" and lower[i - 2] != "very":
            valence = valence * N_SCALAR
    elif i > 0 and lower[i - 1] not in lexicon and lower[i - 1] == "least":
        valence = valence * N_SCALAR
    return valence


def _but_check(lower, sentiments):
    """VADER's 'but' rule, quirks included (it finds each value's first equal one)."""
    if "but" in lower:
        bi = lower.index("but")
        for sentiment in sentiments:
            si = sentiments.index(sentiment)
            if si < bi:
                sentiments.pop(si)
                sentiments.insert(si, sentiment * 0.5)
            elif si > bi:
                sentiments.pop(si)
                sentiments.insert(si, sentiment * 1.5)
    return sentiments


def polarity_scores(engine, text: str) -> dict:
    """engine.polarity_scores(text) as VADER computes it, for an engine whose
    ``fixed`` items (emoji, emoticons) keep their valence (engine.py's Engine)."""
    lexicon = engine.lexicon
    fixed = engine.fixed
    text = _without_emoji(text, engine.emojis)
    words = []
    for token in text.split():
        stripped = token.strip(_PUNCT)
        words.append(token if len(stripped) <= 2 else stripped)
    lower = [w.lower() for w in words]
    n = len(words)
    allcaps = sum(1 for w in words if w.isupper())
    is_cap_diff = 0 < n - allcaps < n

    sentiments = []
    for i, item in enumerate(words):
        low = lower[i]
        if low in BOOSTER_DICT:
            sentiments.append(0)
            continue
        if i < n - 1 and low == "kind" and lower[i + 1] == "of":
            sentiments.append(0)
            continue
        if item in fixed:
            sentiments.append(fixed[item])
            continue
        valence = 0
        if low in lexicon:
            valence = lexicon[low]
            if low == "no" and i != n - 1 and lower[i + 1] in lexicon:
                valence = 0.0
            if (
                (i > 0 and lower[i - 1] == "no")
                or (i > 1 and lower[i - 2] == "no")
                or (i > 2 and lower[i - 3] == "no" and lower[i - 1] in ("or", "nor"))
            ):
                valence = lexicon[low] * N_SCALAR
            if is_cap_diff and item.isupper():
                if valence > 0:
                    valence += C_INCR
                else:
                    valence -= C_INCR
            for start_i in range(3):
                if i > start_i and lower[i - (start_i + 1)] not in lexicon:
                    before = lower[i - (start_i + 1)]
                    s = 0.0
                    if before in BOOSTER_DICT:  # VADER's scalar_inc_dec
                        s = BOOSTER_DICT[before]
                        if valence < 0:
                            s *= -1
                        if words[i - (start_i + 1)].isupper() and is_cap_diff:
                            if valence > 0:
                                s += C_INCR
                            else:
                                s -= C_INCR
                    if start_i == 1 and s != 0:
                        s = s * 0.95
                    if start_i == 2 and s != 0:
                        s = s * 0.9
                    valence = valence + s
                    valence = _negation_check(valence, lower, start_i, i)
                    if start_i == 2:
                        valence = _special_idioms_check(valence, lower, i)
            valence = _least_check(valence, lower, lexicon, i)
        sentiments.append(valence)

    sentiments = _but_check(lower, sentiments)
    return engine.score_valence(sentiments, text)
