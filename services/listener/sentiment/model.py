"""The sentiment model: a logistic regression over features.py's features, kept as a
plain JSON table of weights (no pickle, no network, no numpy at run time).

Versions: the repository ships one model (model.json). ``python -m services.listener
retrain`` fits a new one from the shipped training data plus community managers'
corrections and stores it, with its evaluation, in the ``sentiment_models``
collection; it is used only once activated (``retrain --activate`` or ``python -m
services.listener model activate VERSION``), never silently. Every mention records
the version that scored it (``model_version``).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from services.listener.sentiment.engine import LABELS, NEGATIVE, POSITIVE, analyzer
from services.listener.sentiment.features import BASE, DENSE, SIDES, side_features

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
SHIPPED = HERE / "model.json"
COLLECTION = "sentiment_models"
# How often a running pipeline asks the store which model is active.
CHECK_SECONDS = 30.0


@dataclass(frozen=True)
class Sentiment:
    score: float
    label: str
    model: str | None = None


class Model:
    def __init__(self, data: dict):
        if list(data.get("features") or []) != list(DENSE):
            raise ValueError(f"model {data.get('version')}: its features are not this code's ({DENSE})")
        if list(data.get("labels") or []) != list(LABELS):
            raise ValueError(f"model {data.get('version')}: labels must be {LABELS}")
        self.version: str = data["version"]
        self.data = data
        self.dense: list[list[float]] = data["dense"]
        # Per language (es, en): hashed word bucket -> its three class weights.
        self.words: dict[str, dict[int, list[float]]] = {
            lang: {int(k): v for k, v in data["words"][lang].items()} for lang in ("es", "en")
        }
        self.offsets: list[float] = data.get("offsets") or [0.0, 0.0, 0.0]
        # Per feature, its three class weights: one pass over the features per post.
        self._dense_by_feature = list(zip(*self.dense))
        # A post fills only its language's half of DENSE (es first, then en): the other
        # half is zeros, which the sum skips anyway.
        half = len(BASE)
        self._side_weights = {
            side: self._dense_by_feature[k * half : (k + 1) * half] for k, side in enumerate(SIDES)
        }

    @classmethod
    def load(cls, path: Path = SHIPPED) -> Model:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def probabilities(self, text: str, lang: str) -> list[float]:
        engine = analyzer()
        side = "en" if lang == "en" else "es"
        dense, words = side_features(text, side, engine.polarity(text, lang), engine.emoji)
        neg, neu, pos = self.offsets
        for x, (w0, w1, w2) in zip(dense, self._side_weights[side]):
            if x:
                neg += w0 * x
                neu += w1 * x
                pos += w2 * x
        known = self.words[side]
        for bucket, count in words.items():
            weights = known.get(bucket)
            if weights:
                neg += weights[0] * count
                neu += weights[1] * count
                pos += weights[2] * count
        top = max(neg, neu, pos)
        exps = [math.exp(neg - top), math.exp(neu - top), math.exp(pos - top)]
        total = exps[0] + exps[1] + exps[2]
        return [e / total for e in exps]

    def score(self, text: str, lang: str) -> Sentiment:
        """The label is the likeliest class; the score P(positive) - P(negative), kept
        inside the label's band of label_for so score and label always agree."""
        p_neg, p_neu, p_pos = self.probabilities(text, lang)
        label = LABELS[max(range(3), key=lambda c: (p_neg, p_neu, p_pos)[c])]
        value = p_pos - p_neg
        if label == "negative":
            value = min(value, NEGATIVE)
        elif label == "positive":
            value = max(value, POSITIVE)
        else:
            value = max(NEGATIVE + 0.0001, min(POSITIVE - 0.0001, value))
        return Sentiment(round(max(-1.0, min(1.0, value)), 4), label, self.version)


class Registry:
    """The model in use: the store's active one when there is one, else the shipped one."""

    def __init__(self):
        self._lock = threading.Lock()
        self._shipped: Model | None = None
        self._active: Model | None = None
        self._checked = 0.0

    def shipped(self) -> Model:
        with self._lock:
            if self._shipped is None:
                self._shipped = Model.load()
            return self._shipped

    def current(self) -> Model:
        if time.monotonic() - self._checked > CHECK_SECONDS:
            self.refresh()
        return self._active or self.shipped()

    def refresh(self) -> None:
        """Ask the store which model is active (no store connected: the shipped model)."""
        from services.listener import store

        self._checked = time.monotonic()
        try:
            row = store.active_model()
            if row is None:
                self._active = None
            elif self._active is None or self._active.version != row["version"]:
                full = store.stored_model(row["_id"])
                self._active = Model(full["model"])
                log.info("sentiment model %s in use", self._active.version)
        except Exception:  # noqa: BLE001 - the store is down: keep scoring with what is loaded
            log.warning("could not ask the store for the active sentiment model", exc_info=True)


registry = Registry()


def score(text: str, lang: str) -> Sentiment:
    return registry.current().score(text, lang)
