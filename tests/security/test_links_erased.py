"""A message's links, followed after the customer was erased, record nothing about them.

The preference-center link of an erased customer was already void, but the others of
the same message were not: a one-click unsubscribe wrote a new ledger entry for the
erased id with the visitor's IP, and a click or an open recorded the engagement and
announced it (segments writes it to the erased profile's timeline, with the URL).
Whoever followed them (the customer, or whoever held the old mail) put personal data
back on a profile that was erased. They now answer as before and record nothing."""

# ruff: noqa: F401, F811 - the mailer tests' fixtures, imported to be used here
from __future__ import annotations

from bson import ObjectId

from services.mailer.models import Delivery
from shared.models import ConsentEntry
from tests.mailer.conftest import (
    app,
    events,
    mailer_env,
    make_customer,
    settings,
    settings_for,
    sms_server,
    smtp_server,
)
from tests.security.conftest import service_app
from tests.support import MARKETER_KEY


def test_links_of_an_erased_customers_message_record_nothing(app, events, service_env):
    customer = make_customer(
        email="lucia@ejemplo.es", consent={("email", "newsletter"): "granted"}, events=events
    )
    delivery = Delivery(
        campaign_id="c1",
        customer_id=customer.id,
        step="main",
        channel="email",
        topic="newsletter",
        template_id=ObjectId(),
        status="sent",
        address="lucia@ejemplo.es",
    ).save()
    links = app.extensions["vinculo"].links
    unsubscribe = links.unsubscribe_url(
        links.unsubscribe_token(str(customer.id), "email", "newsletter", str(delivery.id))
    )
    click = links.click_url(str(delivery.id), "https://tienda.example/ofertas")
    opened = links.open_url(str(delivery.id))
    segments = service_app("segments", service_env).test_client()
    erased = segments.delete(f"/customers/{customer.id}", headers={"X-API-Key": MARKETER_KEY})
    assert erased.status_code == 204, erased.get_data(as_text=True)
    entries = ConsentEntry.objects(customer_id=customer.id).count()

    browser = app.test_client()
    base = links.public_url
    answer = browser.post(
        unsubscribe.removeprefix(base),
        data={"List-Unsubscribe": "One-Click"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert answer.status_code == 200  # the page says it is done: nothing is sent to them anyway
    assert browser.get(click.removeprefix(base)).status_code == 302
    assert browser.get(opened.removeprefix(base)).status_code == 200
    assert ConsentEntry.objects(customer_id=customer.id).count() == entries
    assert ConsentEntry.objects(ip="203.0.113.9").count() == 0
    delivery.reload()
    assert delivery.clicked_at is None and delivery.opened_at is None
