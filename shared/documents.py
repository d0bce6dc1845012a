"""Preparing the store for a part: connect, then declare the indexes of the shared
documents (models, processed messages, the outbox and its intents) plus the part's own.

Above both the store and messaging layers, so ``shared/store.py`` (the bottom
layer) needs to know nothing about messaging.
"""

from __future__ import annotations

from shared.messaging.consumer import ProcessedMessage
from shared.messaging.outbox import OutboxIntent
from shared.messaging.publisher import OutboxMessage
from shared.models import ALL_DOCUMENTS
from shared.store import connect, ensure_indexes


def prepare_store(uri: str, *documents) -> None:
    """Connect and declare the indexes of the shared documents plus ``documents``."""
    connect(uri)
    ensure_indexes(*ALL_DOCUMENTS, ProcessedMessage, OutboxMessage, OutboxIntent, *documents)
