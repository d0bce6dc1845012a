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
    MEMORY,
    fold,
    separate_symbols,
    squeeze,
    strip_emoji_noise,
    strip_punct,
    strip_urls,
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
        # First word -> the sizes of the phrases it starts, longest first.
        self.starts: dict[str, list[int]] = {}
        for phrase in self.phrases:
            self.starts.setdefault(phrase[0], []).append(len(phrase))
        for sizes in self.starts.values():
            sizes.sort(reverse=True)
        self._tokens: dict[str, tuple[str, tuple[tuple[str, bool], ...]]] = {}
        self._keys: dict[str, tuple[str | None, str | None]] = {}

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

    def token(self, raw: str) -> tuple[str, tuple[tuple[str, bool], ...]]:
        """(its emphasis marks, its (lower-case word, was all caps) pairs) of one raw token."""
        if raw in EMOTICONS:
            return "", ((raw if raw in self.lexicon else raw.lower(), False),)
        marks = "!" * raw.count("!") + "?" * raw.count("?")
        if raw.startswith("@"):
            return marks, ()  # a handle says who, not how
        token = strip_punct(raw.lstrip("#"))
        if not token:
            return marks, ()
        caps = token.isupper() and len(token) > 1
        low = fold(token).lower()
        if LAUGH_RE.match(low):
            return marks, (("jaja", False),)
        low = squeeze(low)
        return marks, tuple((part, caps) for part in SLANG.get(low, low).split())

    def words(self, text: str) -> tuple[list[tuple[str, bool]], str]:
        """(lower-case word, was all caps) pairs, and the trailing emphasis marks."""
        text = strip_urls(strip_emoji_noise(text))
        words: list[tuple[str, bool]] = []
        marks = ""
        seen = self._tokens
        for raw in separate_symbols(text).split():
            known = seen.get(raw)
            if known is None:
                if len(seen) >= MEMORY:
                    seen.clear()
                known = seen[raw] = self.token(raw)
            if known[0]:
                marks += known[0]
            words.extend(known[1])
        return words, marks

    def key(self, word: str) -> tuple[str | None, str | None]:
        """What a word that is not a negator becomes: (a modifier for the engine or
        None, its lexicon key or None)."""
        if word in CONTRAST:
            return CONTRAST[word], None
        if word in BOOSTERS:
            return "very", None
        if word in DAMPENERS:
            return "slightly", None
        key, superlative = self.lemma(word)
        return ("very" if superlative else None), key

    def join(self, words: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
        """Known multi-word terms (longest first) as one lexicon key; capitals if any word had them."""
        joined: list[tuple[str, bool]] = []
        starts, phrases = self.starts, self.phrases
        i, n = 0, len(words)
        while i < n:
            sizes = starts.get(words[i][0])
            if sizes:
                for size in sizes:
                    if size <= n - i:
                        key = tuple(w for w, _ in words[i : i + size])
                        if key in phrases:
                            joined.append((phrases[key], any(c for _, c in words[i : i + size])))
                            i += size
                            break
                else:
                    joined.append(words[i])
                    i += 1
            else:
                joined.append(words[i])
                i += 1
        return joined

    def rewrite(self, text: str) -> str:
        """A Spanish post as a token string for the VADER engine."""
        words, marks = self.words(text)
        out: list[str] = []
        last_negator = -10
        keys = self._keys
        for position, (word, caps) in enumerate(self.join(words)):
            if word in NEGATORS:
                # Negative concord: "no me gusta nada" negates once, not twice.
                if position - last_negator <= 3:
                    continue
                last_negator = position
                out.append(NEGATORS[word])
                continue
            known = keys.get(word)
            if known is None:
                if len(keys) >= MEMORY:
                    keys.clear()
                known = keys[word] = self.key(word)
            modifier, key = known
            if modifier:
                out.append(modifier)
            if key is not None:
                out.append(key.upper() if caps else key)
        if marks:
            out.append(marks)
        return " ".join(out)
