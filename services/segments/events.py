"""One publisher per process for the segments service's own events.

Every event leaves after the store write it announces, through the Outbox:
if the broker cannot take it now it is kept in the store and the worker's
idle task relays it later (same message id, so consumers drop duplicates).
"""

from __future__ import annotations

import threading

from shared.messaging.contracts import Event
from shared.messaging.publisher import Outbox, Publisher
from shared.messaging.topology import Topology

_lock = threading.Lock()
_outboxes: dict[tuple[str, str], Outbox] = {}


def outbox(settings) -> Outbox:
    key = (settings.amqp_url, settings.broker_namespace)
    with _lock:
        if key not in _outboxes:
            publisher = Publisher(settings.amqp_url, Topology(settings.broker_namespace), "segments")
            _outboxes[key] = Outbox(publisher)
        return _outboxes[key]


def publish(settings, event: Event) -> None:
    outbox(settings).publish(event)
