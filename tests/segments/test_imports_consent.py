"""Consent columns in an import: the segments service checks each row and
announces the statements (consent.imported); the mailer, owner of the ledger,
records them. A row claiming consent without its source, date or proof is
rejected with the reason, in the uploader's language; nothing is granted
silently, and re-importing the file records nothing twice."""

from __future__ import annotations

import pytest

from shared.messaging.contracts import parse_envelope
from shared.models import ConsentEntry, ConsentState, Customer
from tests.segments.test_imports import finished, upload
from tests.support import drain

HEADER = (
    "email;first_name;consent.email.newsletter;consent.sms.promotions;consent.source;consent.date;"
    "consent.wording;consent.ip;consent.form"
)
ROWS = [
    # 2: granted with everything: recorded
    "ñandú@ejemplo.es;Ñandú;concedido;;Feria de Sevilla;31/03/2025;v3;2001:db8::1;",
    # 3: granted without a source: rejected
    "sin.fuente@example.com;Ana;granted;;;2025-03-31;v3;;",
    # 4: pending without a source: rejected
    "pendiente@example.com;Luis;pendiente;;;;;;",
    # 5: revoked needs no source
    "baja@example.com;Eva;revocado;revoked;;;;;",
    # 6: not a status
    "si@example.com;Pep;yes;;Web;2025-01-01;v1;;",
    # 7: granted without a proof
    "sinprueba@example.com;Rosa;granted;;Web;2025-01-01;;;",
    # 8: granted without a date, and a bad IP
    "sinfecha@example.com;Juan;granted;;Web;;;300.1.1.1;",
    # 9: pending with a source and a form as proof
    "form@example.com;Marta;;pending;Tienda online;2025-02-01;;;alta-2025",
    # 10: no consent at all: a plain profile row
    "nada@example.com;Nadie;;;;;;;",
]


def consent_file(rows=ROWS) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode("utf-8")


def upload_csv(api, data, **query):
    # The ';' file: the importer reads it as the header says (the console sends it like this).
    return upload(api, data.replace(b";", b","), **query)


@pytest.fixture
def consent_queue(service_env):
    from tests.support import bound_queue

    return bound_queue(service_env, "segments", "consent.imported", "consent-imported")


@pytest.fixture
def mailer_handler(service_env):
    """The mailer worker's real handler for mailer.consent.imported."""
    from devstack.sms import SmsServer
    from devstack.smtp import SmtpServer
    from services.mailer.bootstrap import build
    from services.mailer.consumers import handlers
    from services.mailer.settings import load

    with SmtpServer() as smtp, SmsServer() as sms:
        settings = load(
            service_env.env(
                VINCULO_MAILER_SMTP_PORT=smtp.port,
                VINCULO_MAILER_SMS_BASE_URL=sms.base_url,
                VINCULO_MAILER_PUBLIC_URL="https://mailer.example",
            )
        )
        parts = build(settings)
        try:
            yield handlers(parts.sender)["mailer.consent.imported"]
        finally:
            parts.close()


def test_consent_columns_are_checked_announced_and_recorded_by_the_mailer(
    api, settings, service_env, consent_queue, mailer_handler
):
    done = finished(api, settings, upload_csv(api, consent_file())["id"])
    assert done["status"] == "done", done
    assert (done["created"], done["rejected"], done["consents"]) == (4, 5, 4), done
    report = {
        (r["row"], r["field"]): r["reason"]
        for r in api.get(f"/imports/{done['id']}/rejections").json["items"]
    }
    assert set(report) == {
        (3, "consent.source"),
        (4, "consent.source"),
        (6, "consent.email.newsletter"),
        (7, "consent.wording"),
        (8, "consent.date"),
        (8, "consent.ip"),
    }, report
    assert "where it was collected" in report[(3, "consent.source")]
    assert "'yes' is not a consent status" in report[(6, "consent.email.newsletter")]
    assert "proof" in report[(7, "consent.wording")]
    # Rejected rows write nothing at all, profile included.
    assert not Customer.objects(email__in=["sin.fuente@example.com", "pendiente@example.com"]).count()
    # The segments service never writes the ledger: it announces.
    assert ConsentEntry.objects.count() == 0 and ConsentState.objects.count() == 0

    envelopes = [parse_envelope(m.body) for m in drain(service_env.amqp_url, consent_queue)]
    assert sorted(
        (e.event().line, e.event().channel, e.event().topic, e.event().status) for e in envelopes
    ) == [
        (2, "email", "newsletter", "granted"),
        (5, "email", "newsletter", "revoked"),
        (5, "sms", "promotions", "revoked"),
        (9, "sms", "promotions", "pending"),
    ]
    for envelope in envelopes:
        mailer_handler(envelope)
    nandu = Customer.objects(email="ñandú@ejemplo.es").first()
    [entry] = ConsentEntry.objects(customer_id=nandu.id)
    assert (entry.channel, entry.topic, entry.status, entry.source) == (
        "email",
        "newsletter",
        "granted",
        "import",
    )
    assert entry.ip == "2001:db8::1" and entry.wording_version == "v3" and "Feria de Sevilla" in entry.note
    assert entry.at.date().isoformat() == "2025-03-31"
    form = ConsentEntry.objects(customer_id=Customer.objects(email="form@example.com").first().id).first()
    assert form.status == "pending" and "alta-2025" in form.note
    assert ConsentState.objects(status="granted").count() == 1

    # The same file again: the mailer gets the same statements and records nothing new.
    again = finished(api, settings, upload_csv(api, consent_file())["id"])
    assert again["consents"] == 4
    for message in drain(service_env.amqp_url, consent_queue):
        mailer_handler(parse_envelope(message.body))
    assert ConsentEntry.objects.count() == 4


def test_consent_reasons_are_in_the_uploaders_language(api, settings):
    done = finished(api, settings, upload_csv(api, consent_file(ROWS[:2] + ROWS[4:5]), lang="es")["id"])
    assert done["language"] == "es"
    report = {
        (r["row"], r["field"]): r["reason"]
        for r in api.get(f"/imports/{done['id']}/rejections").json["items"]
    }
    assert "sin decir dónde se obtuvo" in report[(3, "consent.source")]
    assert "«yes» no es un estado de consentimiento" in report[(4, "consent.email.newsletter")]


def test_an_unknown_consent_column_fails_the_file(api, settings):
    done = finished(api, settings, upload(api, b"email,consent.fax.news\na@example.com,granted\n")["id"])
    assert done["status"] == "failed" and "consent.fax.news" in done["error"]
    assert done["created"] == 0
