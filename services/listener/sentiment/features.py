"""What the sentiment model reads in a post: the lexicon engine's scores, complaint
and sarcasm patterns, emphasis (capitals, repeated marks), emoji, and hashed words.

Complaints rarely carry sentiment words ("Iberia perdió mi maleta", "still no
refund", "tres días sin internet"): the patterns below name what goes wrong for a
customer (lost, broken, charged twice, nobody answers, waiting, cancelled...) in
both languages, on accent-folded lower-case text. Words are hashed (crc32, stable
across processes) into HASH_BUCKETS so a model is a small table of weights and a
community manager's correction can teach it the words of a post.
"""

from __future__ import annotations

import math
import re
import zlib

from services.listener.sentiment.text import (
    MEMORY,
    fold,
    is_symbol,
    squeeze,
    strip_emoji_noise,
    strip_handles,
    strip_urls,
)

HASH_BUCKETS = 1 << 18

_ES_COMPLAINTS = [
    r"\b(perdi\w*|extravi\w*)\b",  # perdió mi maleta, han extraviado
    r"\bno (me )?(funciona|va|anda|carga|arranca|abre|llega|llego|contesta\w*|responde\w*|devuelve\w*|"
    r"solucion\w*|atiende\w*|dan|dais|han|hay quien|sirve|deja\w*|puedo|consigo|aparece)\b",
    r"\b(nunca|jamas) (mas|vuelvo|volvere|compro|comprare|repito|repetire|pidais|pidas|recomiendo)\b",
    r"\bnadie (me |nos )?(contesta|responde|atiende|da|soluciona|sabe|coge|llama)\w*",
    r"\b(sin|ni) (respuesta|solucion|servicio|internet|luz|linea|cobertura|senal|reembolso|noticias)\b",
    r"\b(cobra\w*|cargad\w*) (dos|2|tres|3) veces\b|\bdoble (cobro|cargo)\b|\bme (han )?cobrado\b",
    r"\b(llevo|llevamos|lleva) .{0,25}(esperando|dias|semanas|horas|meses|sin)\b",
    r"\b(sigo|seguimos) (esperando|sin)\b|\btodavia (no|sin|esperando)\b|\baun (no|sin|espero|esperando)\b",
    r"\b(roto|rota|rotos|rotas|estropead\w*|defectuos\w*|averiad\w*|caducad\w*|danad\w*|mojad\w*|fria|frio)\b",
    r"\b(cancelad\w*|cancelaron|retras\w*|overbooking|cola|colas|timo|estafa\w*|robo|robar\w*|enganad\w*|"
    r"vergonzos\w*|verguenza|indignante|inaceptable|lamentable|penoso|penosa|cutre|fatal)\b",
    r"\b(reclamacion|reclamaciones|queja|quejas|hoja de reclamaciones|devolucion|reembolso|denuncia\w*)\b",
    r"\b(otra vez|de nuevo|una vez mas)\b",
    r"\b(me (han )?dejado tirad\w*|me cuelgan|me colgaron|me tienen|os habeis olvidado)\b",
    r"\b(ni caso|tomadura de pelo|que asco|q asco|menuda|vaya (servicio|atencion|tela|tela)|harto|harta|hasta las narices)\b",
]
_EN_COMPLAINTS = [
    r"\b(lost|misplaced|missing)\b",
    r"\b(doesn'?t|does not|didn'?t|did not|won'?t|will not|isn'?t|can'?t|cannot|couldn'?t) "
    r"(work|load|arrive|open|charge|start|help|respond|answer|refund|connect|turn on)\w*",
    r"\bnot (working|arrived|received|delivered|refunded|happy|impressed|good enough|resolved)\b",
    r"\bnever (again|ordering|buying|flying|coming back|using|recommend)\b",
    r"\bno (one|body|response|reply|answer|refund|signal|service|internet|update|help)\b|\bnobody\b",
    r"\b(charged|billed) (me )?(twice|two times|double|three times)\b|\bdouble.charged\b",
    r"\b(still|been) (waiting|no|not|nothing|without)\b|\b(hours|days|weeks) (later|on hold|waiting)\b",
    r"\bon hold\b|\bwaiting for\b",
    r"\b(broken|damaged|defective|faulty|cold|stale|expired|leaking|cracked|stuck)\b",
    r"\b(cancell?ed|delayed|overbooked|scam\w*|rip.?off|fraud|stolen|ripped off|unacceptable|ridiculous|"
    r"disgrace\w*|shameful|pathetic|useless|joke)\b",
    r"\b(complaint|complain\w*|refund|chargeback|dispute)\b",
    r"\b(again|once more|yet again|for the \w+ time)\b",
    r"\b(hung up|left on read|ignored|ghosted|fed up|sick of|tired of)\b",
    r"\bwhere is my\b|\bwhere'?s my\b",
]
_ES_SARCASM = [
    r"\bgracias por nada\b",
    r"\b(genial|estupendo|perfecto|fenomenal|maravilloso|que bien),? (otra vez|de nuevo)\b",
    r"\bmuchas gracias\b.{0,40}\b(nada|nunca|otra vez|sin)\b",
    r"\b(me encanta|encanta) (esperar|que me)\b",
    r"\bbravo\b.{0,30}\b(otra vez|nunca|sin)\b",
    r"\bsi,? claro\b",
    r"\bclaro que si\b.{0,20}\bnunca\b",
]
_EN_SARCASM = [
    r"\bthanks? for nothing\b",
    r"\b(great|perfect|wonderful|fantastic|awesome|nice),? (another|again|now)\b",
    r"\b(love|loving) (waiting|being|how|it when)\b",
    r"\bjust what i needed\b",
    r"\bthanks? a lot\b.{0,30}\b(not|never|again|no)\b",
    r"\byeah,? right\b",
    r"\bwell done\b.{0,30}\b(again|not)\b",
]
_ES_PRAISE = [
    r"\b(gracias|graciass+|muchas gracias) (por|a)\b",
    r"\b(lo|os|les) recomiendo\b|\brecomendad\w*\b",
    r"\b(volvere|repetiremos|repetire|repito)\b",
    r"\b(rapidisim\w*|a tiempo|en perfecto estado|de diez|un 10)\b",
    r"\b(me (han )?solucionado|resuelto|solucionado)\b",
]
_EN_PRAISE = [
    r"\bthanks? (so much|for|to)\b|\bthank you\b",
    r"\bhighly recommend\w*\b|\brecommend\w*\b",
    r"\b(will|would) (definitely )?(come back|order again|buy again)\b",
    r"\b(on time|arrived early|perfect condition|spot on|sorted it|fixed it|resolved)\b",
]
_NEGATION = re.compile(r"\b(no|nunca|jamas|ni|sin|nadie|nada|not|never|no one|nobody|nothing|\w+n't)\b")
_CAPS = re.compile(r"\b[A-ZÁÉÍÓÚÑ]{3,}\b")
_REPEAT = re.compile(r"[!?]{2,}|\.{3,}|…")
_WORD = re.compile(r"[a-zñ0-9']+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _compile(patterns, at_word_start=False):
    """One pattern of alternatives. ``at_word_start``: every alternative begins with
    \\b and a letter (tests/listener/test_sentiment_speed.py checks it), so a match can
    only begin at a word's first letter; saying so up front makes the longest list's
    search a third quicker and finds the same matches."""
    pattern = "|".join(f"(?:{p})" for p in patterns)
    return re.compile(rf"(?=\b\w)(?:{pattern})" if at_word_start else pattern)


PATTERNS = {
    "es": {
        "complaint": _compile(_ES_COMPLAINTS, at_word_start=True),
        "sarcasm": _compile(_ES_SARCASM),
        "praise": _compile(_ES_PRAISE),
    },
    "en": {
        "complaint": _compile(_EN_COMPLAINTS, at_word_start=True),
        "sarcasm": _compile(_EN_SARCASM),
        "praise": _compile(_EN_PRAISE),
    },
}

BASE = (
    "bias",
    "lex_compound",
    "lex_pos",
    "lex_neg",
    "lex_negative",
    "lex_positive",
    "complaint",
    "complaint_any",
    "sarcasm",
    "praise",
    "negations",
    "caps",
    "repeated_marks",
    "exclamations",
    "question",
    "emoji_neg",
    "emoji_pos",
    "length",
)
# Each language has its own weights for every feature above (a post fills only its own
# language's half): Spanish posts and English ones use the lexicon and emphasis
# differently, and a large English training set must not move the Spanish weights.
SIDES = ("es", "en")
DENSE = tuple(f"{side}:{name}" for side in SIDES for name in BASE)


def repeated_marks(text: str) -> bool:
    """'!!', '?!', '...' or '…' in the post (each needs one of ! ? ... …: else no search)."""
    if "!" in text or "?" in text or "..." in text or "…" in text:
        return bool(_REPEAT.search(text))
    return False


def clean(text: str) -> str:
    """Lower-case, accent-folded (ñ kept), de-elongated, without URLs or handles."""
    text = strip_handles(strip_urls(strip_emoji_noise(text)))
    return squeeze(fold(text).lower(), 1).replace("’", "'")


def words(cleaned: str) -> list[str]:
    return _WORD.findall(cleaned)


def hashed(tokens: list[str]) -> dict[int, float]:
    """Unigrams and bigrams -> bucket -> count (crc32: the same in every process).
    The definition; extraction uses hashed_fast, which the tests hold to it."""
    out: dict[int, float] = {}
    grams = tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]
    for gram in grams:
        bucket = zlib.crc32(gram.encode()) % HASH_BUCKETS
        out[bucket] = out.get(bucket, 0.0) + 1.0
    return out


# Token -> (crc32 of the token, " " + token in UTF-8): a bigram's crc32 continues its first
# word's with the second's bytes, so no bigram string is built. Bounded by text.MEMORY.
_CRC: dict[str, tuple[int, bytes]] = {}


def _crc(token: str) -> tuple[int, bytes]:
    known = _CRC.get(token)
    if known is None:
        if len(_CRC) >= MEMORY:
            _CRC.clear()
        known = _CRC[token] = (zlib.crc32(token.encode()), (" " + token).encode())
    return known


def hashed_fast(tokens: list[str]) -> dict[int, float]:
    """hashed(tokens), the same buckets in the same order, from remembered crc32s."""
    out: dict[int, float] = {}
    crcs = [_crc(t) for t in tokens]
    for crc, _ in crcs:
        bucket = crc % HASH_BUCKETS
        out[bucket] = out.get(bucket, 0.0) + 1.0
    for (first, _), (_, second) in zip(crcs, crcs[1:]):
        bucket = zlib.crc32(second, first) % HASH_BUCKETS
        out[bucket] = out.get(bucket, 0.0) + 1.0
    return out


def side_features(
    text: str, side: str, lexicon: dict, emoji: dict[str, float]
) -> tuple[list[float], dict[int, float]]:
    """(the dense features of BASE, hashed words) of a post read as ``side`` ('es' or 'en')."""
    cleaned = clean(text)
    patterns = PATTERNS[side]
    complaints = len(patterns["complaint"].findall(cleaned))
    sarcasm = len(patterns["sarcasm"].findall(cleaned))
    praise = len(patterns["praise"].findall(cleaned))
    tokens = words(cleaned)
    neg_emoji = pos_emoji = 0
    if not text.isascii():
        for ch in _NON_ASCII.findall(text):  # the emoji table's entries are single characters
            value = emoji.get(ch, 0.0)
            neg_emoji += value < 0
            pos_emoji += value > 0
    stripped = text.rstrip()
    while stripped and (is_symbol(stripped[-1]) or stripped[-1] in " \t\n"):
        stripped = stripped[:-1]
    compound = lexicon["compound"]
    dense = [
        1.0,
        compound,
        lexicon["pos"],
        lexicon["neg"],
        float(compound <= -0.15),
        float(compound >= 0.15),
        min(complaints, 3) / 3,
        float(complaints > 0),
        float(sarcasm > 0),
        min(praise, 2) / 2,
        min(len(_NEGATION.findall(cleaned)), 3) / 3,
        min(len(_CAPS.findall(text)), 3) / 3,
        float(repeated_marks(text)),
        min(text.count("!"), 3) / 3,
        float(stripped.endswith("?")),
        min(neg_emoji, 2) / 2,
        min(pos_emoji, 2) / 2,
        min(math.log1p(len(tokens)) / 4, 1.0),
    ]
    prefix = "e:" if side == "en" else "s:"
    return dense, hashed_fast([prefix + t for t in tokens])


def extract(
    text: str, lang: str, lexicon: dict, emoji: dict[str, float]
) -> tuple[list[float], dict[int, float]]:
    """(dense features in DENSE order, hashed words) of a post. ``lexicon`` is the
    engine's polarity_scores of the post; ``emoji`` the emoji table. The other
    language's half of the dense features is zero."""
    side = "en" if lang == "en" else "es"
    dense, hashed_words = side_features(text, side, lexicon, emoji)
    padding = [0.0] * len(BASE)
    return (padding + dense if side == "en" else dense + padding), hashed_words
