"""Mailer fixtures: a real SMTP server and a Twilio-compatible SMS server on
loopback, mailer settings pointing at them, the API app, and helpers."""

from __future__ import annotations

import pytest
from bson import ObjectId
from kombu import Connection

from devstack.sms import SmsServer
from devstack.smtp import SmtpServer
from services.mailer import consents
from services.mailer.settings import load
from shared.messaging.contracts import SendRequested, envelope_for
from shared.models import Customer
from tests.support import ADMIN_KEY, MARKETER_KEY


@pytest.fixture
def smtp_server():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def sms_server():
    with SmsServer() as server:
        yield server


class DkimKey:
    """A DKIM key made by dkimpy's own helpers (openssl), and its DNS record for verifying."""

    selector, domain = "s1", "tienda.example"

    def __init__(self, folder):
        from dkim.dknewkey import ExtractRSADnsPublicKey, GenRSAKeys

        self.path, dns_path = folder / "dkim.pem", folder / "dkim.dns"
        GenRSAKeys(str(self.path), verbose=False)
        ExtractRSADnsPublicKey(str(self.path), str(dns_path), verbose=False)
        self.record = dns_path.read_bytes().strip()

    def settings(self) -> dict:
        return {"dkim_domain": self.domain, "dkim_selector": self.selector, "dkim_key_path": str(self.path)}

    def verifies(self, signed: bytes) -> bool:
        import dkim

        name = f"{self.selector}._domainkey.{self.domain}.".encode()
        return dkim.verify(signed, dnsfunc=lambda asked, timeout=5: self.record if asked == name else None)


@pytest.fixture
def dkim_key(tmp_path):
    return DkimKey(tmp_path)


@pytest.fixture
def mailer_env(service_env, smtp_server, sms_server):
    """Extra environment for mailer processes: providers on loopback, no quiet hours."""
    return {
        "VINCULO_MAILER_SMTP_PORT": smtp_server.port,
        "VINCULO_MAILER_SMS_BASE_URL": sms_server.base_url,
        "VINCULO_MAILER_QUIET_HOURS": "",
        "VINCULO_MAILER_PUBLIC_URL": "https://mailer.example",
        "VINCULO_MAILER_FROM_ADDRESS": "ofertas@tienda.example",
        "VINCULO_MAILER_FROM_NAME": "Tienda",
    }


@pytest.fixture
def settings_for(service_env, mailer_env):
    def build(**overrides):
        return load(service_env.env(**mailer_env), **overrides)

    return build


@pytest.fixture
def settings(settings_for):
    return settings_for()


@pytest.fixture
def app(settings):
    from services.mailer.app import create_app

    return create_app(settings)


class Api:
    def __init__(self, client, key=MARKETER_KEY):
        self.client = client
        self.headers = {"X-API-Key": key}

    def __getattr__(self, method):
        def call(path, **kwargs):
            return getattr(self.client, method)(
                path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs
            )

        return call


@pytest.fixture
def api(app):
    return Api(app.test_client())


@pytest.fixture
def admin_api(app):
    return Api(app.test_client(), ADMIN_KEY)


@pytest.fixture
def events(settings):
    from services.mailer.bootstrap import build

    parts = build(settings)
    yield parts.events
    parts.close()


@pytest.fixture
def sender_for(settings_for):
    """A worker's sender, built through the mailer's bootstrap like the worker's."""
    from services.mailer.bootstrap import build

    made = []

    def make(**overrides):
        parts = build(settings_for(**overrides))
        made.append(parts)
        return parts.sender

    yield make
    for parts in made:
        parts.close()


def make_customer(consent: dict | None = None, events=None, **fields) -> Customer:
    """A customer, with consents recorded through the mailer's own consent module."""
    data = {
        "first_name": "Íñigo",
        "last_name": "Núñez",
        "locale": "es",
        "time_zone": "Europe/Madrid",
        **fields,
    }
    customer = Customer(**data).save()
    for (channel, topic), status in (consent or {}).items():
        consents.record_change(customer.id, channel, topic, status, "api", events=events)
    return customer


def create_template(api, **overrides) -> dict:
    body = {
        "name": "Ofertas",
        "channel": "email",
        "fallback_locale": "es",
        "variants": {
            "es": {
                "subject": "¡Últimas ofertas para ti, {{ first_name }}!",
                "from_name": "Sofía Núñez",
                "text": "Hola {{ first_name }},\nMira https://tienda.example/ofertas?x=1&y=2\n"
                "Baja: {{ unsubscribe_url }}\n",
                "html": "<html><body><p>Hola {{ first_name }}, tienes {{ 25|money }}.</p>"
                '<a href="https://tienda.example/ofertas?x=1&amp;y=2">Ver</a> '
                '<a href="{{ unsubscribe_url }}">Baja</a></body></html>',
            },
            "en": {
                "subject": "Latest offers for you, {{ first_name }}!",
                "text": "Hi {{ first_name }}, https://shop.example/offers",
                "html": "<p>Hi {{ first_name }}</p>",
            },
        },
    }
    body.update(overrides)
    response = api.post("/templates", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def send_requested(
    template_id,
    customer_ids,
    *,
    campaign_id="camp-1",
    channel="email",
    topic="newsletter",
    message_id=None,
    **fields,
):
    event = SendRequested(
        campaign_id=campaign_id,
        channel=channel,
        topic=topic,
        template_id=str(template_id),
        customer_ids=[str(c) for c in customer_ids],
        **fields,
    )
    return envelope_for(event, "campaigns", message_id=message_id)


def publish_raw(amqp_url, topology, envelope) -> None:
    from kombu import Producer

    with Connection(amqp_url, transport_options={"confirm_publish": True}) as conn:
        Producer(conn.channel()).publish(
            envelope.to_json().encode(),
            exchange=topology.exchange("campaigns"),
            routing_key=envelope.type,
            content_type="application/json",
            message_id=envelope.message_id,
            delivery_mode=2,
        )


__all__ = ["Api", "ObjectId", "create_template", "make_customer", "publish_raw", "send_requested"]


def relayed(settings) -> list[int]:
    """What two relays of a fresh mailer process announce (a crash test's second one: nothing)."""
    from services.mailer.bootstrap import build

    parts = build(settings)
    try:
        return [parts.outbox.relay(older_than=0), parts.outbox.relay(older_than=0)]
    finally:
        parts.close()
