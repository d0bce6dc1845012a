"""The listener's documents: listening queries, per-source cursors, mentions
and alert episodes. The listener is their only writer."""

from services.listener.models.alerts import AlertEpisode, WebhookCall
from services.listener.models.mention import Correction, Mention
from services.listener.models.query import LANGUAGES, SOURCES, ListeningQuery, SourceCursor

DOCUMENTS = (ListeningQuery, SourceCursor, Mention, AlertEpisode, WebhookCall)

__all__ = [
    "AlertEpisode",
    "Correction",
    "DOCUMENTS",
    "LANGUAGES",
    "ListeningQuery",
    "Mention",
    "SOURCES",
    "SourceCursor",
    "WebhookCall",
]
