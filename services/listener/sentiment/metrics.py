"""Figures of a labelling against the gold labels: (gold, got) pairs."""

from __future__ import annotations

from services.listener.sentiment.engine import LABELS


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    scores = []
    for label in LABELS:
        tp = sum(1 for gold, got in pairs if gold == label and got == label)
        fp = sum(1 for gold, got in pairs if gold != label and got == label)
        fn = sum(1 for gold, got in pairs if gold == label and got != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def recall(pairs, label: str) -> float:
    relevant = [got for gold, got in pairs if gold == label]
    return sum(1 for got in relevant if got == label) / len(relevant) if relevant else 0.0


def accuracy(pairs) -> float:
    return sum(1 for gold, got in pairs if gold == got) / len(pairs) if pairs else 0.0
