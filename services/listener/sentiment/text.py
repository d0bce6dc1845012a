"""Text normalisation shared by the sentiment engine and language detection:
emoji separation, accent folding that keeps ñ, elongation squeezing and
tokenising social posts (hashtags, handles, URLs, emoticons)."""

from __future__ import annotations

import re
import string
import unicodedata

# Variation selectors, skin tones and joiners carry no sentiment of their own.
_EMOJI_NOISE = re.compile("[\ufe0e\ufe0f\u200d\U0001f3fb-\U0001f3ff]")
URL_RE = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
HANDLE_RE = re.compile(r"(?<!\w)@\w+")
PUNCT = string.punctuation + "¿¡«»“”‘’…–—·"
EMOTICONS = {":)", ":-)", ":D", ";)", ":(", ":-(", ":'(", ":/", ":|", "<3", "xD", "XD", ":P", ":p"}
# The analysis of a word does not depend on its post, so the words seen are remembered
# (spanish.py, engine.py, features.py); past this many the memory starts again, so a
# stream of new words cannot grow it (a few MB each).
MEMORY = 20_000
_RUN3 = re.compile(r"([^\W\d_])\1{2,}")
_TRIPLE = re.compile(r"(.)\1\1", re.DOTALL)


def strip_emoji_noise(text: str) -> str:
    if text.isascii():  # all of them are outside ASCII
        return text
    return _EMOJI_NOISE.sub("", text)


def strip_urls(text: str) -> str:
    """URLs replaced by a space. A URL needs "://" or "www." (in any case: only W and w
    match w without regard to case): without them the search is skipped."""
    if "://" in text or "www." in text.lower():
        return URL_RE.sub(" ", text)
    return text


def strip_handles(text: str) -> str:
    """@handles replaced by a space (no "@", no search)."""
    if "@" in text:
        return HANDLE_RE.sub(" ", text)
    return text


def is_symbol(ch: str) -> bool:
    """Emoji and pictographs (Unicode 'So'), which we score as tokens of their own."""
    return unicodedata.category(ch) == "So"


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _spaced(match: re.Match) -> str:
    ch = match.group(0)
    return f" {ch} " if is_symbol(ch) else ch


def separate_symbols(text: str) -> str:
    """Put spaces around every emoji so '¡genial😍!' gives '¡genial', '😍', '!'."""
    if text.isascii():
        return text
    return _NON_ASCII.sub(_spaced, text)


_FOLDED: dict[str, str] = {}


def _fold_char(match: re.Match) -> str:
    ch = match.group(0)
    folded = _FOLDED.get(ch)
    if folded is None:
        if ch in "ñÑ":
            folded = ch
        else:
            folded = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        _FOLDED[ch] = folded
    return folded


def fold(token: str) -> str:
    """Remove accents but keep ñ/Ñ (año is not ano) and keep the case."""
    if token.isascii():
        return token
    return _NON_ASCII.sub(_fold_char, token)


def squeeze(token: str, keep: int = 1) -> str:
    """'muuuy' -> 'muy' (keep=1), 'sooo' -> 'soo' (keep=2): runs of 3+ letters.
    (A run of any three characters is a quicker search: none, nothing to squeeze.)"""
    if not _TRIPLE.search(token):
        return token
    return _RUN3.sub(lambda m: m.group(1) * keep, token)


def strip_punct(token: str) -> str:
    return token.strip(PUNCT)


def for_detection(text: str) -> str:
    """What the language detector should see: no URLs, handles, emoji or '#'."""
    text = strip_handles(strip_urls(text))
    if not text.isascii():
        text = _NON_ASCII.sub(lambda m: " " if is_symbol(m.group(0)) else m.group(0), strip_emoji_noise(text))
    return text.replace("#", " ").strip()


LAUGH_EN = re.compile(r"^(?:(?:ha)+h?|(?:he){2,}|lo+l|lmao+|rofl)$")
