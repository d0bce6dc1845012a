"""What every service's ``bootstrap.py`` builds on: one place that makes the parts.

A service's composition root (``services/<name>/bootstrap.py``) subclasses
``Parts`` and adds its own clients (the mailer's transports, campaigns' client of
the mailer's templates, ...). Every process part (api, worker, scheduler,
poller) calls the service's ``build(settings)`` once and passes the result down;
nothing below reads settings or opens a connection on its own.

- ``parts.settings``: the service's settings;
- ``parts.outbox``: the one outbox of this process and producer (opened on first use);
- ``parts.prepare_store()``: connect and declare the indexes of the shared
  documents plus the service's own (``documents``);
- ``parts.close()``: close what was opened.

In a Flask app the parts sit in ``app.extensions["vinculo"]``; views reach them with
``shared.bootstrap.current()``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from flask import current_app

from shared.documents import prepare_store
from shared.messaging.outbox import Outbox
from shared.messaging.topology import Topology

EXTENSION = "vinculo"


@dataclass
class Parts:
    settings: object
    producer: str
    documents: tuple = ()
    _outbox: Outbox | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def outbox(self) -> Outbox:
        with self._lock:
            if self._outbox is None:
                self._outbox = Outbox.connect(
                    self.settings.amqp_url, Topology(self.settings.broker_namespace), self.producer
                )
            return self._outbox

    def prepare_store(self) -> None:
        prepare_store(self.settings.mongo_uri, *self.documents)

    def install(self, app) -> None:
        """Make these the parts of ``app`` (views read them with ``current()``)."""
        app.extensions[EXTENSION] = self

    def close(self) -> None:
        with self._lock:
            outbox, self._outbox = self._outbox, None
        if outbox is not None:
            outbox.close()


def current() -> Parts:
    """The parts of the app handling this request."""
    return current_app.extensions[EXTENSION]
