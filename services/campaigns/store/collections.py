"""The campaigns collections' pymongo handles and the leases kept on two of them."""

from __future__ import annotations

from services.campaigns.models import (
    Campaign,
    CampaignRun,
    Conversion,
    DeliveryFact,
    Enrollment,
    SchedulerLease,
)
from shared.leases import Lease


def campaigns():
    return Campaign._get_collection()


def runs():
    return CampaignRun._get_collection()


def facts():
    return DeliveryFact._get_collection()


def conversions():
    return Conversion._get_collection()


def enrollments():
    return Enrollment._get_collection()


def leases():
    return SchedulerLease._get_collection()


def fields(*names: str) -> dict | None:
    """A projection of ``names`` (None: the whole document)."""
    return {name: 1 for name in names} or None


def run_lease(owner: str, seconds: float = 0) -> Lease:
    """The fan-out worker's lease on a campaign run (``worker`` until ``worker_until``)."""
    return Lease(runs, owner, seconds, owner_field="worker", until_field="worker_until", reentrant=True)


def scheduler_lease(holder: str, seconds: float) -> Lease:
    """The scheduler replicas' lease (one document, ``scheduler_leases/campaigns``)."""
    return Lease(leases, holder, seconds, owner_field="holder", until_field="expires_at", reentrant=True)
