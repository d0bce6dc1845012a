"""Staff cannot record a consent as the customer's own act on Vínculo's customer pages.

``POST /customers/<id>/consents`` took any ledger source, so a marketer (or a script with
a marketer's key) recorded ``granted`` with ``double_opt_in`` or ``preference_center``:
in the ledger, the same as the customer confirming the link mailed to them or ticking the
box on their own preference page, the proof a regulator asks for, and with no sign of who
wrote it. Those sources (and ``unsubscribe``) are written only by the pages the customer's
signed links open; the API refuses them, naming ``source``."""

# ruff: noqa: F401, F811 - the mailer tests' fixtures, imported to be used here
from __future__ import annotations

import pytest

from shared.models import ConsentEntry
from tests.mailer.conftest import (
    Api,
    app,
    events,
    mailer_env,
    make_customer,
    settings,
    settings_for,
    sms_server,
    smtp_server,
)
from tests.support import ADMIN_KEY, MARKETER_KEY


@pytest.mark.parametrize("key", [MARKETER_KEY, ADMIN_KEY])
def test_the_consent_api_refuses_the_sources_only_customers_pages_write(app, events, key):
    customer = make_customer(email="lucia@ejemplo.es", events=events)
    staff = Api(app.test_client(), key)
    url = f"/customers/{customer.id}/consents"
    for source in ("double_opt_in", "preference_center", "unsubscribe"):
        for status in ("granted", "revoked"):
            answer = staff.post(
                url, json={"channel": "email", "topic": "promotions", "status": status, "source": source}
            )
            assert answer.status_code == 422, (source, status, answer.json)
            assert list(answer.json["details"]["fields"]) == ["source"]
    assert ConsentEntry.objects(customer_id=customer.id).count() == 0
    for source in ("form", "support", "api", "import"):  # where staff and systems may say it came from
        answer = staff.post(
            url, json={"channel": "email", "topic": "promotions", "status": "granted", "source": source}
        )
        assert answer.status_code == 201, (source, answer.json)
