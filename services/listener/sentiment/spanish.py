"""The Spanish front end of the sentiment engine.

VADER's engine (rules for negation windows, boosters, "but", capitals and
exclamation marks) is language-neutral apart from its word lists, which are
English module constants. Rather than patching those globals, this module
rewrites a Spanish post into tokens the engine understands: Spanish
negators become the English negators the engine knows ("no" -> "not",
"nunca" -> "never", "sin" -> "without"), intensifiers become "very",
softeners "slightly", "pero" becomes "but"; every other word is folded
(accents removed, ñ kept), de-elongated ("muuuy" -> "muy"), expanded from
chat spelling ("q" -> "que", "xq" -> "porque") and mapped onto the lexicon's
masculine singular form ("buenas" -> "bueno", "rapidísima" -> "very rapido").
The valences themselves come from lexicon_es.txt.
"""

from __future__ import annotations

import re

from services.listener.sentiment.text import (
    EMOTICONS,
    URL_RE,
    fold,
    separate_symbols,
    squeeze,
    strip_emoji_noise,
    strip_punct,
)

NEGATORS = {
    "no": "not",
    "nunca": "never",
    "jamas": "never",
    "ni": "nor",
    "sin": "without",
    "tampoco": "neither",
    "nadie": "nothing",
    "nada": "nothing",
    "ningun": "none",
    "ninguno": "none",
    "ninguna": "none",
    "ya_no": "not",
}
BOOSTERS = {
    "muy",
    "super",
    "re",
    "requete",
    "mega",
    "ultra",
    "tan",
    "tanto",
    "demasiado",
    "realmente",
    "totalmente",
    "sumamente",
    "extremadamente",
    "increiblemente",
    "absolutamente",
    "completamente",
    "verdaderamente",
    "mas",
    "mucho",
    "muchisimo",
    "bastante",
    "sin_duda",
    "tremendo",
    "tremendamente",
    "especialmente",
    "enormemente",
    "altamente",
    "terriblemente",
}
DAMPENERS = {"poco", "algo", "casi", "medio", "menos", "apenas", "un_poco", "ligeramente"}
CONTRAST = {"pero": "but"}
# Chat spelling -> standard form (after folding and lower-casing).
SLANG = {
    "q": "que",
    "k": "que",
    "ke": "que",
    "qe": "que",
    "xq": "porque",
    "pq": "porque",
    "porq": "porque",
    "xk": "porque",
    "tb": "tambien",
    "tmb": "tambien",
    "tbn": "tambien",
    "x": "por",
    "d": "de",
    "bn": "bien",
    "mxo": "mucho",
    "mcho": "mucho",
    "nd": "nada",
    "xfa": "por favor",
    "porfa": "por favor",
    "pf": "por favor",
    "grax": "gracias",
    "grasias": "gracias",
    "grcs": "gracias",
    "gracis": "gracias",
    "toy": "estoy",
    "ta": "esta",
    "sta": "esta",
    "pa": "para",
    "wapo": "guapo",
    "mu": "muy",
    "tqm": "tqm",
    "msj": "mensaje",
    "aki": "aqui",
    "salu2": "saludos",
    "bno": "bueno",
    "bna": "buena",
    "mjr": "mejor",
}
LAUGH_RE = re.compile(r"^(?:(?:j+[aeiou]+)+j*|(?:[jh]a){2,}h?|(?:js)+j?|x+d+|lo+l)$")
SUPERLATIVE_RE = re.compile(r"^(.+?)isim[oa]s?$")
FUNCTION_PHRASES = {("ya", "no"): "ya_no", ("sin", "duda"): "sin_duda", ("un", "poco"): "un_poco"}


class SpanishFrontEnd:
    def __init__(self, lexicon: dict[str, float]):
        self.lexicon = lexicon
        # Longest phrases first: "nunca jamas" before "nunca mas".
        self.phrases: dict[tuple[str, ...], str] = dict(FUNCTION_PHRASES)
        for term in lexicon:
            if "_" in term:
                self.phrases[tuple(term.split("_"))] = term
        self.max_phrase = max(len(p) for p in self.phrases)

    # ------------------------------------------------------------------
    def lemma(self, low: str) -> tuple[str, bool]:
        """The lexicon key for an inflected form, and whether it was a superlative."""
        if low in self.lexicon:
            return low, False
        match = SUPERLATIVE_RE.match(low)
        if match:
            stem = match.group(1)
            for candidate in (
                stem + "o",
                stem + "e",
                stem,
                re.sub("qu$", "c", stem) + "o",
                re.sub("gu$", "g", stem) + "o",
                re.sub("c$", "z", stem),
            ):
                if candidate in self.lexicon:
                    return candidate, True
        candidates = []
        if low.endswith("es"):
            candidates.append(low[:-2])
        if low.endswith("s"):
            candidates.append(low[:-1])
        if low.endswith("as"):
            candidates.append(low[:-2] + "o")
        if low.endswith("a"):
            candidates.append(low[:-1] + "o")
        for candidate in candidates:
            if candidate in self.lexicon:
                return candidate, False
        return low, False

    def words(self, text: str) -> tuple[list[tuple[str, bool]], str]:
        """(lower-case word, was all caps) pairs, and the trailing emphasis marks."""
        text = URL_RE.sub(" ", strip_emoji_noise(text))
        words: list[tuple[str, bool]] = []
        marks = ""
        for raw in separate_symbols(text).split():
            if raw in EMOTICONS:
                words.append((raw if raw in self.lexicon else raw.lower(), False))
                continue
            marks += "!" * raw.count("!") + "?" * raw.count("?")
            if raw.startswith("@"):
                continue  # a handle says who, not how
            token = strip_punct(raw.lstrip("#"))
            if not token:
                continue
            caps = token.isupper() and len(token) > 1
            low = fold(token).lower()
            if LAUGH_RE.match(low):
                words.append(("jaja", False))
                continue
            low = squeeze(low)
            for part in SLANG.get(low, low).split():
                words.append((part, caps))
        return words, marks

    def rewrite(self, text: str) -> str:
        """A Spanish post as a token string for the VADER engine."""
        words, marks = self.words(text)
        joined: list[tuple[str, bool]] = []
        i = 0
        while i < len(words):
            for size in range(min(self.max_phrase, len(words) - i), 1, -1):
                key = tuple(w for w, _ in words[i : i + size])
                if key in self.phrases:
                    joined.append((self.phrases[key], any(c for _, c in words[i : i + size])))
                    i += size
                    break
            else:
                joined.append(words[i])
                i += 1
        out: list[str] = []
        last_negator = -10
        for position, (word, caps) in enumerate(joined):
            if word in NEGATORS:
                # Negative concord: "no me gusta nada" negates once, not twice.
                if position - last_negator <= 3:
                    continue
                last_negator = position
                out.append(NEGATORS[word])
                continue
            if word in CONTRAST:
                out.append(CONTRAST[word])
                continue
            if word in BOOSTERS:
                out.append("very")
                continue
            if word in DAMPENERS:
                out.append("slightly")
                continue
            key, superlative = self.lemma(word)
            if superlative:
                out.append("very")
            out.append(key.upper() if caps else key)
        if marks:
            out.append(marks)
        return " ".join(out)
