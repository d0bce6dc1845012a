"""Offline language detection for short posts, restricted to Spanish and English.

lingua-language-detector with only {es, en} loaded is right on very short
texts ("ok gracias", "no me gusta", "vale", "genial") where py3langid is not
(measured: README, "Language"), but it is the slowest step of the pipeline.
So a cheap first pass decides the clear cases: a post with at least two
unambiguous Spanish markers (function words, ñ, accents, ¿ ¡) and no English
ones is Spanish, and the mirror case English; lingua decides the rest. A text with no letters left after
removing URLs, handles and emoji is "und" (undetermined); the caller may
fall back to the language the source reported. A post mostly in another script
(Arabic, Hebrew, Cyrillic, CJK) is "und" too, but it has words (``wordless``
tells the two apart): a query asking for es or en does not keep it.
"""

from __future__ import annotations

import re
import threading
import unicodedata

from services.listener.sentiment.text import for_detection

# Words that are common in one language and (nearly) never words of the other.
SPANISH_WORDS = frozenset(
    "que qué de la el los las del por para con una es está están muy pero mi mis nos lo se su sus al "
    "más cómo hay son gracias hola y ya tan también porque cuando nunca nada todo esta este esto".split()
)
ENGLISH_WORDS = frozenset(
    "the and is are was were you your my to of it it's this that for with at not just i i'm don't "
    "can't have has what how why be will thanks love from they we our their been would should".split()
)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_SPANISH_CHARS = re.compile(r"[ñáéíóúü¿¡]", re.IGNORECASE)

LANGS = ("es", "en")
_detector = None
_lock = threading.Lock()


def detector():
    global _detector
    with _lock:
        if _detector is None:
            from lingua import Language, LanguageDetectorBuilder

            _detector = LanguageDetectorBuilder.from_languages(Language.SPANISH, Language.ENGLISH).build()
        return _detector


def _code(language) -> str:
    if language is None:
        return "und"
    return language.iso_code_639_1.name.lower()


def _has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


_HASHTAG = re.compile(r"#\w+")


def other_script(text: str) -> bool:
    """Whether most letters of the post (hashtags aside: a brand's tag is Latin in any language)
    are of another script than Latin (Arabic, Hebrew, Cyrillic, CJK...): neither Spanish nor
    English, whatever lingua makes of a Latin word in it."""
    if text.isascii():
        return False
    letters = [ch for ch in for_detection(_HASHTAG.sub(" ", text)) if ch.isalpha()]
    latin = sum(1 for ch in letters if "LATIN" in unicodedata.name(ch, ""))
    return latin * 2 < len(letters)


def wordless(text: str) -> bool:
    """Whether ``text`` has no words to judge (only emoji, URLs, handles): its "und" says nothing
    about its language, unlike a post in another script (Arabic, Cyrillic...), also "und"."""
    return not _has_letters(for_detection(text))


def quick(cleaned: str) -> str | None:
    """'es' or 'en' when the markers are unambiguous, else None (ask lingua)."""
    words = _WORD.findall(cleaned.lower())
    spanish = sum(1 for w in words if w in SPANISH_WORDS) + (2 if _SPANISH_CHARS.search(cleaned) else 0)
    english = sum(1 for w in words if w in ENGLISH_WORDS)
    if spanish >= 2 and english == 0:
        return "es"
    if english >= 2 and spanish == 0:
        return "en"
    return None


def detect(text: str, hint: str | None = None) -> str:
    """'es', 'en' or 'und' ('hint' is the source's own tag, used only when we cannot tell)."""
    cleaned = for_detection(text)
    if not _has_letters(cleaned):
        return hint if hint in LANGS else "und"
    if other_script(text):
        return "und"
    return quick(cleaned) or _code(detector().detect_language_of(cleaned))


def detect_many(texts: list[str], hints: list[str | None] | None = None) -> list[str]:
    """Like detect for a batch (lingua's parallel detection)."""
    hints = hints or [None] * len(texts)
    cleaned = [for_detection(text) for text in texts]
    out = [hint if hint in LANGS else "und" for hint in hints]
    todo = []
    for i, text in enumerate(cleaned):
        if _has_letters(text) and other_script(texts[i]):
            out[i] = "und"
        elif _has_letters(text):
            decided = quick(text)
            if decided:
                out[i] = decided
            else:
                todo.append(i)
    if todo:
        found = detector().detect_languages_in_parallel_of([cleaned[i] for i in todo])
        for i, language in zip(todo, found):
            out[i] = _code(language)
    return out
