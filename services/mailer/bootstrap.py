"""The mailer's composition root: the parts every process part (api, worker) uses,
built once from the settings and passed down.

- ``parts.outbox`` (also ``parts.events``): the one outbox of the process;
- ``parts.tokens`` and ``parts.links``: signed links of messages and pages;
- ``parts.open_transport(channel)``: a new SMTP or SMS transport (an SMTP session
  belongs to one thread: the sender keeps one per sending thread, a test send
  opens and closes its own);
- ``parts.listener``: the client of the listener's API (a customer's mentions);
- ``parts.segments``: the client of segments' API (Customer and the timeline are segments');
- ``parts.budget``: the render budget of templates, set for the process once;
- ``parts.sender``: the worker's sender, made on first use, with its own outbox
  connection for lists of delivery events.

The mailer's outbox intents (a sweep's outcomes, a bounce report's events) are
resolved by ``intents``, registered on import, here, so every process relays them.

Views reach the parts with ``shared.bootstrap.current()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.mailer import render_budget
from services.mailer.email_message import SmtpTransport
from services.mailer.intents import PRODUCER
from services.mailer.listening import Listener
from services.mailer.models import DOCUMENTS
from services.mailer.prefcenter import Segments
from services.mailer.render_budget import RenderBudget
from services.mailer.sender import Sender
from services.mailer.settings import Settings, load
from services.mailer.sms import SmsTransport
from services.mailer.tokens import Tokens, from_settings
from services.mailer.tracking import Links
from shared.bootstrap import Parts
from shared.messaging.outbox import Outbox
from shared.messaging.topology import Topology


@dataclass
class MailerParts(Parts):
    tokens: Tokens | None = None
    links: Links | None = None
    listener: Listener | None = None
    segments: Segments | None = None
    budget: RenderBudget | None = None
    transports: dict = field(default_factory=dict)  # given ones (used by every thread), else opened
    _sender: Sender | None = field(default=None, repr=False)

    @property
    def events(self) -> Outbox:
        """The outbox, by the name the mailer's code gives it."""
        return self.outbox

    def open_transport(self, channel: str):
        """A new transport of ``channel``; the caller keeps it to one thread and closes it."""
        return SmtpTransport(self.settings) if channel == "email" else SmsTransport(self.settings)

    @property
    def sender(self) -> Sender:
        """The worker's sender (made once)."""
        events = self.outbox
        with self._lock:
            if self._sender is None:
                self._sender = Sender(
                    self.settings,
                    events,
                    self.transports,
                    Outbox.connect(
                        self.settings.amqp_url, Topology(self.settings.broker_namespace), PRODUCER
                    ),
                    open_transport=self.open_transport,
                    links=self.links,
                )
            return self._sender

    def close(self) -> None:
        with self._lock:
            sender, self._sender = self._sender, None
        if sender is not None:
            sender.close()
        super().close()


def build(settings: Settings | None = None, transports: dict | None = None) -> MailerParts:
    """The mailer's parts for ``settings`` (loaded from the environment when not given)."""
    settings = settings or load()
    tokens = from_settings(settings)
    budget = RenderBudget.from_settings(settings)
    render_budget.configure(budget)
    return MailerParts(
        settings=settings,
        producer=PRODUCER,
        documents=DOCUMENTS,
        tokens=tokens,
        links=Links(tokens, settings.public_url, settings.unsubscribe_mailto),
        listener=Listener(settings),
        segments=Segments(settings),
        budget=budget,
        transports=dict(transports or {}),
    )
