"""Sentiment of a short social post in Spanish or English, from -1 to 1.

Both languages run through VADER's rule engine (vaderSentiment 3.3.2):
English with VADER's own lexicon, Spanish with the project's lexicon
(lexicon_es.txt) behind the Spanish front end (spanish.py). Emojis are
scored from the project's emoji table (emoji.txt) in both languages. The
score is VADER's compound; the label uses the thresholds below (see the
README, "Sentiment").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from services.listener.sentiment.spanish import SpanishFrontEnd
from services.listener.sentiment.text import (
    EMOTICONS,
    LAUGH_EN,
    MEMORY,
    is_symbol,
    separate_symbols,
    squeeze,
    strip_emoji_noise,
    strip_urls,
)

HERE = Path(__file__).resolve().parent
LEXICON_ES = HERE / "lexicon_es.txt"
LEXICON_EN_EXTRA = HERE / "lexicon_en_extra.txt"
EMOJI = HERE / "emoji.txt"

# compound >= POSITIVE is positive, <= NEGATIVE is negative, else neutral.
# VADER's authors use +-0.05; +-0.15 was better on the dev part of our set
# (short brand posts carry mild courtesy words: "ok gracias", "thanks").
POSITIVE = 0.15
NEGATIVE = -0.15
# A post ending in a question mark is mostly an inquiry: its score is halved
# ("¿el descuento vale también en tienda?"), a strong complaint stays one.
QUESTION_FACTOR = 0.5
LABELS = ("negative", "neutral", "positive")


def label_for(score: float) -> str:
    if score >= POSITIVE:
        return "positive"
    if score <= NEGATIVE:
        return "negative"
    return "neutral"


def read_lexicon(path: Path) -> dict[str, float]:
    """``term<TAB>valence`` lines; '#' comments; phrases get '_' between words."""
    lexicon: dict[str, float] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        term, sep, value = line.rpartition("\t")
        if not sep:
            raise ValueError(f"{path.name}:{number}: expected term<TAB>valence")
        term = strip_emoji_noise(term.strip())
        lexicon[term if term in EMOTICONS else term.lower().replace(" ", "_")] = float(value)
    return lexicon


def phrase_starts(phrases: dict[tuple[str, ...], str]) -> dict[str, list[int]]:
    """First word -> the sizes of the known phrases it starts, longest first."""
    starts: dict[str, list[int]] = {}
    for phrase in phrases:
        if len(phrase) > 1:
            starts.setdefault(phrase[0], []).append(len(phrase))
    for sizes in starts.values():
        sizes.sort(reverse=True)
    return starts


def join_phrases(
    words: list[str], phrases: dict[tuple[str, ...], str], starts: dict[str, list[int]], norms: list[str]
) -> list[str]:
    """Replace known multi-word terms (longest first) with their lexicon key. ``norms``
    are the words as the phrases spell them (lower case, no . , ; : ! ?); ``starts``
    is phrase_starts(phrases)."""
    out, i, n = [], 0, len(words)
    while i < n:
        for size in starts.get(norms[i], ()):
            if size <= n - i:
                key = tuple(norms[i : i + size])
                if key in phrases:
                    out.append(phrases[key])
                    i += size
                    break
        else:
            out.append(words[i])
            i += 1
    return out


@dataclass(frozen=True)
class Sentiment:
    score: float
    label: str


def _engine_class():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from services.listener.sentiment import vader

    class Engine(SentimentIntensityAnalyzer):
        """VADER whose emojis and emoticons keep their valence: they are never
        negated by a "no" two words before (VADER would flip "no refund 😡").
        polarity_scores is vader.py's port (the same figures, under half the cost);
        sentiment_valence is what the library's own polarity_scores would call."""

        fixed: dict[str, float] = {}

        def polarity_scores(self, text):
            return vader.polarity_scores(self, text)

        def sentiment_valence(self, valence, sentitext, item, i, sentiments):
            if item in self.fixed:
                sentiments.append(self.fixed[item])
                return sentiments
            return super().sentiment_valence(valence, sentitext, item, i, sentiments)

    return Engine


class Analyzer:
    """Thread-safe after construction: the engine keeps no per-call state, and the words
    it remembers (a dict read and written whole entries at a time) are pure functions of
    the word, so two threads that race write the same entry."""

    def __init__(self):
        SentimentIntensityAnalyzer = _engine_class()
        emoji = read_lexicon(EMOJI)
        self.emoji = emoji
        SentimentIntensityAnalyzer.fixed = {
            **emoji,
            **{e: v for e, v in read_lexicon(LEXICON_ES).items() if e in EMOTICONS},
        }
        self.english = SentimentIntensityAnalyzer()
        english_extra = read_lexicon(LEXICON_EN_EXTRA)
        self.english.lexicon.update(english_extra)
        self.english.lexicon.update(emoji)
        self.english_phrases = {tuple(t.split("_")): t for t in english_extra if "_" in t}
        self.english_starts = phrase_starts(self.english_phrases)
        self._english_words: dict[str, tuple[str, str | None, str]] = {}
        # Our emoji table wins over VADER's English descriptions of the same emoji.
        self.english.emojis = {
            k: v for k, v in self.english.emojis.items() if strip_emoji_noise(k) not in emoji
        }
        spanish_lexicon = read_lexicon(LEXICON_ES)
        self.spanish = SentimentIntensityAnalyzer()
        self.spanish.lexicon = {**spanish_lexicon, **emoji}
        self.spanish.emojis = {}
        self.front = SpanishFrontEnd(self.spanish.lexicon)

    def english_word(self, word: str) -> tuple[str, str | None, str]:
        """(its emphasis marks, the word for the engine or None, that word as phrases spell it)."""
        marks = "!" * word.count("!") + "?" * word.count("?")
        if word.startswith("@"):
            return marks, None, ""
        if word not in EMOTICONS:
            low = word.lower().strip(".,;:!?\"'()")
            if LAUGH_EN.match(low):
                word = "haha"
            elif low and low not in self.english.lexicon and squeeze(low, 2) != low:
                two = squeeze(low, 2)
                word = two if two in self.english.lexicon else squeeze(low, 1)
        word = word.lstrip("#")
        return marks, word, word.lower().strip(".,;:!?")

    def english_text(self, text: str) -> str:
        text = separate_symbols(strip_urls(strip_emoji_noise(text)))
        words, norms, marks = [], [], ""
        seen = self._english_words
        for raw in text.split():
            known = seen.get(raw)
            if known is None:
                if len(seen) >= MEMORY:
                    seen.clear()
                known = seen[raw] = self.english_word(raw)
            if known[0]:
                marks += known[0]
            if known[1] is not None:
                words.append(known[1])
                norms.append(known[2])
        words = join_phrases(words, self.english_phrases, self.english_starts, norms)
        return " ".join(words + ([marks] if marks else []))

    def polarity(self, text: str, lang: str) -> dict:
        """VADER's scores of the post: compound, pos, neu, neg."""
        if lang == "en":
            return self.english.polarity_scores(self.english_text(text))
        # es, and undetermined posts (mostly emoji) use the Spanish side
        return self.spanish.polarity_scores(self.front.rewrite(text))

    def score(self, text: str, lang: str) -> Sentiment:
        value = self.polarity(text, lang)["compound"]
        if ends_with_question(text):
            value *= QUESTION_FACTOR
        value = round(max(-1.0, min(1.0, value)), 4)
        return Sentiment(value, label_for(value))


def ends_with_question(text: str) -> bool:
    """'¿Alguien sabe algo? 🤔' is a question: trailing emoji and spaces do not count.
    (Only the end is read: checking every character of the post cost a tenth of scoring.)"""
    text = strip_emoji_noise(text)
    end = len(text)
    while end and (text[end - 1] in " \t\n" or is_symbol(text[end - 1])):
        end -= 1
    return end > 0 and text[end - 1] == "?"


_analyzer: Analyzer | None = None
_lock = threading.Lock()


def analyzer() -> Analyzer:
    """The process's analyzer, built on first use (loading lexicons takes ~0.2 s)."""
    global _analyzer
    if _analyzer is not None:  # built: no lock needed to read it
        return _analyzer
    with _lock:
        if _analyzer is None:
            _analyzer = Analyzer()
        return _analyzer


def score(text: str, lang: str) -> Sentiment:
    return analyzer().score(text, lang)
