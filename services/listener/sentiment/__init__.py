"""Understanding a post: language (es/en) and sentiment (-1..1 with a label)."""

from services.listener.sentiment.engine import LABELS, Sentiment, label_for, score
from services.listener.sentiment.language import detect, detect_many

__all__ = ["LABELS", "Sentiment", "detect", "detect_many", "label_for", "score"]
