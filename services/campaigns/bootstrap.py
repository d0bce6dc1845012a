"""The campaigns service's composition root: settings, the one outbox of the process
and the client of the mailer's templates, built once for every part (api, worker,
scheduler) and passed down.

Campaign events leave through ``parts.outbox`` (``shared.messaging.outbox``):
fan-out batches and campaign.due carry deterministic message ids
(``<run>:<phase>:<batch>:<variant>``, ``due:<run>``), so an event published
again after a crash is the same message to every consumer; what the broker
cannot take is kept and relayed, same id, by the worker's idle task and the
scheduler's tick. A resend to failed announces its requests through an outbox
intent (``resend``); its resolver is registered on import, here, so every
part's relay knows it. Views reach the parts with ``shared.bootstrap.current()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.campaigns import resend  # noqa: F401 - registers the resolver of its outbox intents
from services.campaigns.models import DOCUMENTS
from services.campaigns.settings import Settings, load
from services.campaigns.templates import Templates
from shared.bootstrap import Parts

PRODUCER = "campaigns"


@dataclass
class CampaignsParts(Parts):
    settings: Settings
    # the mailer owns templates: a campaign's are checked through its API
    templates: Templates | None = None


def build(settings: Settings | None = None) -> CampaignsParts:
    """The parts of one campaigns process (nothing is connected until first used)."""
    settings = settings or load()
    return CampaignsParts(
        settings=settings,
        producer=PRODUCER,
        documents=DOCUMENTS,
        templates=Templates(settings.mailer_url, settings.mailer_api_key),
    )
