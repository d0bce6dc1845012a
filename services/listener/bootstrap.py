"""The listener's composition root: settings, the outbox, the sources, the pipeline and
the alerting, built once per process and passed down to every part (api, poller,
stream, and the retrain and model commands).

- ``parts.outbox``: the one outbox of the process (producer ``listener``);
- ``parts.sources``: X (through tweepy), Mastodon and RSS/Atom, configured from settings;
- ``parts.pipeline``: posts -> stored, linked, announced mentions, through the outbox;
- ``parts.alerts``: the spike rule, ``alert.raised`` through the outbox, and webhooks
  through the guarded client (``shared.outbound``);
- ``parts.sentiment``: the model in use (``sentiment.model.registry``: the shipped
  model, or the stored version activated, checked every 30 s).

Nothing here decides anything: the rules are in the domain modules.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from services.listener.alerts import Alerts, Rule
from services.listener.announce import PRODUCER
from services.listener.models import DOCUMENTS
from services.listener.pipeline import Pipeline
from services.listener.sentiment.model import Registry, registry
from services.listener.settings import Settings, load
from services.listener.sources import Source
from services.listener.sources import build as build_sources
from shared.bootstrap import Parts


@dataclass
class ListenerParts(Parts):
    _sources: dict | None = field(default=None, repr=False)
    _pipeline: Pipeline | None = field(default=None, repr=False)
    _alerts: Alerts | None = field(default=None, repr=False)
    # Not Parts._lock: building the pipeline or alerts opens the outbox, which takes that one.
    _building: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def sources(self) -> dict[str, Source]:
        with self._building:
            if self._sources is None:
                self._sources = build_sources(self.settings)
            return self._sources

    @property
    def pipeline(self) -> Pipeline:
        with self._building:
            if self._pipeline is None:
                self._pipeline = Pipeline(self.outbox)
            return self._pipeline

    @property
    def alerts(self) -> Alerts:
        with self._building:
            if self._alerts is None:
                settings = self.settings
                self._alerts = Alerts(
                    self.outbox,
                    Rule.from_settings(settings),
                    settings.webhook_timeout,
                    settings.webhook_attempts,
                    outbound=settings.outbound(settings.webhook_timeout),
                )
            return self._alerts

    @property
    def sentiment(self) -> Registry:
        return registry

    def close(self) -> None:
        """Stop the webhook calls in flight, then close the outbox."""
        with self._building:
            alerts, self._alerts = self._alerts, None
            self._pipeline = None
        if alerts is not None:
            alerts.close()
        super().close()


def build(settings: Settings | None = None) -> ListenerParts:
    return ListenerParts(settings=settings or load(), producer=PRODUCER, documents=DOCUMENTS)
