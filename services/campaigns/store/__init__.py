"""The only code touching the campaigns service's collections (and the segments it reads).

``services.campaigns.store`` itself gives the collections' pymongo handles
(``campaigns()``, ``runs()``, ``facts()``, ``conversions()``, ``enrollments()``,
``leases()``, resolved at each call once the store is connected) for tests and
tools; the service's code calls the named queries of the modules below, each a
unit of work in the domain's words, with the same store commands as before:

* ``campaign_queries``: campaigns, their pages and conditional state changes;
* ``run_queries``: the runs of a campaign (fire, fan-out, A/B, completion);
* ``result_queries``: delivery facts and conversions;
* ``journey_queries``: journey enrollments and the segments an audience is read from.

The documents that declare the collections and their indexes are in ``models.py``.
Nothing here raises HTTP (or domain) errors: a missing document is None (or False).
"""

from services.campaigns.store.collections import (
    campaigns,
    conversions,
    enrollments,
    facts,
    leases,
    run_lease,
    runs,
    scheduler_lease,
)

__all__ = [
    "campaigns",
    "conversions",
    "enrollments",
    "facts",
    "leases",
    "run_lease",
    "runs",
    "scheduler_lease",
]
