"""One publisher per process for the segments service's own events.

Every event leaves after the store write it announces, through the Outbox:
if the broker cannot take it now it is kept in the store and the worker's
idle task relays it later (same message id, so consumers drop duplicates).
``publish_many`` sends a list and waits for the broker's confirms once.
"""

from __future__ import annotations

import threading

from shared.messaging.contracts import Event
from shared.messaging.publisher import BatchPublisher, Outbox, Publisher
from shared.messaging.topology import Topology

_lock = threading.Lock()
_outboxes: dict[tuple[str, str], Outbox] = {}
_batches: dict[tuple[str, str], BatchPublisher] = {}


def outbox(settings) -> Outbox:
    key = (settings.amqp_url, settings.broker_namespace)
    with _lock:
        if key not in _outboxes:
            publisher = Publisher(settings.amqp_url, Topology(settings.broker_namespace), "segments")
            _outboxes[key] = Outbox(publisher)
        return _outboxes[key]


def publish(settings, event: Event) -> None:
    outbox(settings).publish(event)


def batch_publisher(settings) -> BatchPublisher:
    key = (settings.amqp_url, settings.broker_namespace)
    with _lock:
        if key not in _batches:
            _batches[key] = BatchPublisher(settings.amqp_url, Topology(settings.broker_namespace), "segments")
        return _batches[key]


def publish_many(settings, items: list[tuple[Event, str | None, str | None]]) -> None:
    """``items``: (event, message id or None for a new one, correlation id or None for the current one)."""
    batch_publisher(settings).publish_events(items)
