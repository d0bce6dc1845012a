"""Offline language detection for short posts, restricted to Spanish and English.

lingua-language-detector with only {es, en} loaded is right on very short
texts ("ok gracias", "no me gusta") where general detectors fail; measured
in bench/listener/bench_language.py. A text with no letters left after
removing URLs, handles and emoji is "und" (undetermined); the caller may
fall back to the language the source reported.
"""

from __future__ import annotations

import threading

from services.listener.sentiment.text import for_detection

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


def detect(text: str, hint: str | None = None) -> str:
    """'es', 'en' or 'und' ('hint' is the source's own tag, used only when we cannot tell)."""
    cleaned = for_detection(text)
    if not _has_letters(cleaned):
        return hint if hint in LANGS else "und"
    return _code(detector().detect_language_of(cleaned))


def detect_many(texts: list[str], hints: list[str | None] | None = None) -> list[str]:
    """Like detect for a batch (lingua's parallel detection)."""
    hints = hints or [None] * len(texts)
    cleaned = [for_detection(text) for text in texts]
    todo = [i for i, text in enumerate(cleaned) if _has_letters(text)]
    out = [hint if hint in LANGS else "und" for hint in hints]
    if todo:
        found = detector().detect_languages_in_parallel_of([cleaned[i] for i in todo])
        for i, language in zip(todo, found):
            out[i] = _code(language)
    return out
