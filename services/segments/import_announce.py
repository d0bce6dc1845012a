"""What an import batch announces, and its outbox intent.

The batch's events are planned before its writes (``planned``) and go into one
intent (``intend``: their message ids fixed then), so a process killed after the
writes leaves them to the relay, which announces those whose person is stored
(``events.imported``). After the writes the batch keeps the events of what was
written and announces them through the intent (``importer.EventSender``).
"""

from __future__ import annotations

from services.segments import import_consent
from services.segments.events import IMPORT_KIND
from shared.logs import get_correlation_id
from shared.messaging.contracts import CustomerCreated, CustomerUpdated, envelope_for


def planned(settings, job, new_docs, updates: dict, changed_fields: set, statements: dict, person_of: dict):
    """(customer id, event) of everything the batch announces if its writes succeed:
    customer.created/updated (unless turned off), then each consent statement of a
    row whose person is stored (consents are the mailer's: they always go)."""
    out: list[tuple[object, object]] = []
    if settings.import_events:
        for doc, _ in new_docs:
            event = CustomerCreated(
                customer_id=str(doc["_id"]), source="import", external_id=doc.get("external_id")
            )
            out.append((doc["_id"], event))
        changed = sorted(changed_fields)
        out += [
            (cid, CustomerUpdated(customer_id=str(cid), source="import", changed=changed)) for cid in updates
        ]
    for line, said in sorted(statements.items()):
        cid = person_of.get(line)
        if cid is not None:
            out += [(cid, import_consent.event(statement, cid, job.id, line)) for statement in said]
    return out


def intend(outbox, events: list, since):
    """One outbox intent for the batch's events (None: nothing to announce, or no outbox);
    ``since`` is the ``updated_at`` its updates set (what the relay's check looks for)."""
    if outbox is None or not events:
        return None
    correlation_id = get_correlation_id()
    envelopes = [envelope_for(event, outbox.producer, correlation_id, None) for event in events]
    return outbox.record(IMPORT_KIND, envelopes, since=since)
