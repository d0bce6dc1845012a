"""Understanding a post: language (es/en) and sentiment (-1..1 with a label, and the
version of the model that scored it)."""

from services.listener.sentiment.engine import LABELS, label_for
from services.listener.sentiment.language import detect, detect_many
from services.listener.sentiment.model import Sentiment, score

__all__ = ["LABELS", "Sentiment", "detect", "detect_many", "label_for", "score"]
