"""Consent columns of an import: ``consent.<channel>.<topic>`` (granted,
pending or revoked; Spanish words too) and, for the whole row, where and how
it was collected: ``consent.source`` (required for a grant or a pending
request), ``consent.date`` (required for a grant), and at least one proof for
a grant: ``consent.wording`` (the version of the text the person agreed to),
``consent.ip`` or ``consent.form``.

The segments service never writes consents: a valid statement leaves as a
``consent.imported`` event and the mailer (the ledger's owner) records it. A
row whose consent is not complete is rejected whole, with the reason, so
nothing is granted silently.
"""

from __future__ import annotations

import datetime
import ipaddress
import re

from shared import normalize
from shared.messaging.contracts import ConsentImported
from shared.models.consent import CHANNELS, TOPICS

STATEMENT = re.compile(rf"^consent\.({'|'.join(CHANNELS)})\.({'|'.join(TOPICS)})$")
ANY_CONSENT = re.compile(r"^consent\.")
META = ("consent.source", "consent.date", "consent.wording", "consent.ip", "consent.form")
STATUS_WORDS = {
    "granted": "granted",
    "concedido": "granted",
    "otorgado": "granted",
    "dado": "granted",
    "pending": "pending",
    "pendiente": "pending",
    "revoked": "revoked",
    "revocado": "revoked",
    "retirado": "revoked",
}
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M")


def is_column(name: str) -> bool:
    return bool(STATEMENT.match(name)) or name in META


def unknown_column(name: str) -> bool:
    """A consent-looking column that names no channel/topic we know (the whole file is refused)."""
    return bool(ANY_CONSENT.match(name)) and not is_column(name)


def _date(raw: str) -> datetime.datetime | None:
    try:
        value = datetime.datetime.fromisoformat(raw)
    except ValueError:
        value = None
        for fmt in DATE_FORMATS:
            try:
                value = datetime.datetime.strptime(raw, fmt)
                break
            except ValueError:
                continue
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


def parse(cells: dict) -> tuple[list[dict], list[tuple[str, str, dict]]]:
    """The row's consent statements, or errors as (field, message code, params).

    ``cells`` maps consent columns to their text (None when blank).
    """
    statements, errors = [], []
    for column, raw in cells.items():
        match = STATEMENT.match(column)
        if not match or raw is None:
            continue
        status = STATUS_WORDS.get(normalize.fold(raw).strip())
        if status is None:
            errors.append((column, "consent_status", {"value": raw}))
            continue
        statements.append({"channel": match.group(1), "topic": match.group(2), "status": status})
    if not statements:
        return [], errors
    source = cells.get("consent.source")
    if source is not None:
        bad = normalize.unsafe_character(source)
        if bad or len(source) > 200:
            errors.append(("consent.source", "consent_text", {}))
    wording = cells.get("consent.wording")
    form = cells.get("consent.form")
    for name, value, limit in (("consent.wording", wording, 50), ("consent.form", form, 200)):
        if value is not None and (normalize.unsafe_character(value) or len(value) > limit):
            errors.append((name, "consent_text", {}))
    ip = cells.get("consent.ip")
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(ip.strip()))
        except ValueError:
            errors.append(("consent.ip", "consent_ip", {"value": ip}))
    at = None
    if cells.get("consent.date") is not None:
        at = _date(cells["consent.date"].strip())
        if at is None:
            errors.append(("consent.date", "consent_date", {"value": cells["consent.date"]}))
        elif at > datetime.datetime.utcnow() + datetime.timedelta(days=1):
            errors.append(("consent.date", "consent_future", {}))
    claims = {s["status"] for s in statements}
    if claims & {"granted", "pending"} and source is None:
        errors.append(("consent.source", "consent_no_source", {}))
    if "granted" in claims:
        if cells.get("consent.date") is None:
            errors.append(("consent.date", "consent_no_date", {}))
        if wording is None and ip is None and form is None:
            errors.append(("consent.wording", "consent_no_proof", {}))
    if errors:
        return [], errors
    at = at or datetime.datetime.utcnow().replace(microsecond=0)
    for statement in statements:
        statement.update(
            at=at.replace(tzinfo=datetime.UTC).isoformat(),
            origin=source,
            wording_version=wording,
            ip=ip,
            form=form,
        )
    return statements, []


def event(statement: dict, customer_id, job_id, line: int) -> ConsentImported:
    return ConsentImported(customer_id=str(customer_id), import_id=str(job_id), line=line, **statement)
