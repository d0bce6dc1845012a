"""The documents every service reads from the shared profile store.

Who writes what (ARCHITECTURE.md): segments writes Customer; mailer writes
ConsentEntry, ConsentState and SuppressedContact; segments writes the
Interaction entries (the timeline), the others' facts from their events.
"""

from shared.models.consent import CHANNELS, CONSENT_STATUSES, TOPICS, ConsentEntry, ConsentState
from shared.models.customer import STAGES, Customer, PurchaseSummary, Suppression
from shared.models.interaction import INTERACTION_KINDS, Interaction
from shared.models.segment import Segment, SegmentMember
from shared.models.suppression import SuppressedContact, contact_hash

ALL_DOCUMENTS = (Customer, ConsentEntry, ConsentState, Interaction, SuppressedContact, Segment, SegmentMember)

__all__ = [
    "ALL_DOCUMENTS",
    "CHANNELS",
    "CONSENT_STATUSES",
    "INTERACTION_KINDS",
    "STAGES",
    "TOPICS",
    "ConsentEntry",
    "ConsentState",
    "Customer",
    "Interaction",
    "PurchaseSummary",
    "Segment",
    "SegmentMember",
    "SuppressedContact",
    "Suppression",
    "contact_hash",
]
