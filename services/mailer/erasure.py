"""What an erasure leaves in the mailer. Segments anonymises the profile (asked by a
marketer through its API, or by the customer in the preference center) and announces
``customer.erased``; the mailer's worker then keeps, of that customer:

* the contacts only as hashes on the suppression list (nothing is sent to them again);
* the deliveries with their outcome (status, code, times: campaign results count them as
  before), marked ``erased``, without the address or the provider's words about them;
* the consent ledger's changes without the IPs they came from;
* no delivery preferences (pause, frequency).

One command per collection however many deliveries the customer had, each idempotent: a
redelivered event changes nothing. The audit log of the preference center keeps its entries
(who did what from which IP, the erasure among them); no API shows it.

``forget_all_erased`` (``python -m services.mailer forget-erased``) does the same for every
erased profile, a batch of customers per command: for those erased before the mailer
handled more than the suppression hashes.
"""

from __future__ import annotations

from bson import ObjectId

from services.mailer.store import consents, deliveries, preferences, recipients, suppression


def forget(customer_id: ObjectId, hashes: dict[str, str | None]) -> None:
    """Apply an erasure (``hashes``: kind -> the contact's hash, as ``customer.erased`` has them)."""
    # Suppress first: from here on nothing is sent, even if a later step fails (and is redelivered).
    for kind, digest in hashes.items():
        if digest:
            # False when already suppressed (bounce, complaint, an earlier delivery of this event)
            suppression.suppress(digest, kind, "erased")
    _forget_data([customer_id])


def forget_all_erased(batch: int = 500) -> int:
    """Take every erased profile's data out of the mailer's collections (their hashes are on the
    suppression list since their event); how many customers."""
    done = 0
    for customer_ids in recipients.erased_ids(batch):
        _forget_data(customer_ids)
        done += len(customer_ids)
    return done


def _forget_data(customer_ids: list) -> None:
    deliveries.forget_customers(customer_ids)
    consents.forget_ips(customer_ids)
    preferences.delete_preferences(customer_ids)
