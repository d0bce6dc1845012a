"""Fixtures of the campaigns tests: the API in-process, segments written straight to
the store, templates stored by the mailer's models and served by the mailer's real
API on a free port (campaigns asks it about templates, as in production)."""

from __future__ import annotations

import threading

import pytest
from bson import ObjectId, json_util

from shared.models import Customer, Segment
from tests.support import ANALYST_KEY, MARKETER_KEY


class Api:
    """The campaigns API through Flask's test client, as the marketer."""

    def __init__(self, client, key=MARKETER_KEY):
        self.client = client
        self.headers = {"X-API-Key": key}

    def __getattr__(self, method):
        def call(path, **kwargs):
            return getattr(self.client, method)(path, headers=self.headers, **kwargs)

        return call


@pytest.fixture
def mailer_url(service_env):
    """The mailer's API (owner of templates), served over HTTP from a thread of this process."""
    from werkzeug.serving import make_server

    from services.mailer.app import create_app
    from services.mailer.settings import load

    server = make_server("127.0.0.1", 0, create_app(service_env.settings(load)), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="mailer-api", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def settings(service_env, mailer_url):
    from services.campaigns.settings import load

    return service_env.settings(
        load,
        scheduler_poll_seconds=0.2,
        fanout_batch_size=100,
        fanout_lease_seconds=3.0,
        mailer_url=mailer_url,
        mailer_api_key=ANALYST_KEY,
    )


@pytest.fixture
def app(settings):
    from services.campaigns.app import create_app

    app = create_app(settings)
    yield app
    app.extensions["vinculo"].close()


@pytest.fixture
def api(app):
    return Api(app.test_client())


def make_template(channel="email", archived=False, name="t") -> str:
    """A template as the mailer stores it (its own model), so its API can answer about it."""
    from services.mailer.models import Template

    return str(Template(name=name, channel=channel, archived=archived).save().id)


def make_segment(query=None, kind="dynamic", name="seg") -> Segment:
    return Segment(
        name=name,
        kind=kind,
        compiled=json_util.dumps(query if query is not None else {"locale": "es"})
        if kind == "dynamic"
        else None,
    ).save()


def make_customers(n, locale="es", prefix="c", ids: list[ObjectId] | None = None) -> list[ObjectId]:
    docs = [{"email": f"{prefix}{i}@example.com", "locale": locale, "erased": False} for i in range(n)]
    for doc, given in zip(docs, ids or []):
        doc["_id"] = given
    ids = Customer._get_collection().insert_many(docs).inserted_ids
    return sorted(ids)


@pytest.fixture
def template():
    return make_template()


@pytest.fixture
def segment():
    return make_segment()


def bind_queue(service_env, routing_key: str, name: str | None = None) -> str:
    """A test queue on campaigns.events for ``routing_key`` (deleted with the namespace's exchange)."""
    from kombu import Connection, Queue

    queue_name = f"{service_env.namespace}test.{name or routing_key}"
    with Connection(service_env.amqp_url) as conn:
        channel = conn.channel()
        exchange = service_env.topology.exchange("campaigns")
        exchange(channel).declare()
        Queue(queue_name, exchange=exchange, routing_key=routing_key, auto_delete=False)(channel).declare()
    _TEST_QUEUES.append((service_env.amqp_url, queue_name))
    return queue_name


def take(service_env, queue_name: str, limit: int = 100000) -> list:
    """Every envelope now in the test queue, parsed (acked)."""
    from shared.messaging.contracts import parse_envelope
    from tests.support import drain

    return [parse_envelope(m.body) for m in drain(service_env.amqp_url, queue_name, limit)]


_TEST_QUEUES: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def _delete_test_queues():
    yield
    from kombu import Connection

    while _TEST_QUEUES:
        url, name = _TEST_QUEUES.pop()
        with Connection(url) as conn:
            try:
                conn.channel().queue_delete(name)
            except Exception:  # noqa: BLE001 - already gone
                pass


def schedule_campaign(api, segment, template, schedule=None, **extra) -> str:
    body = {
        "name": "c",
        "channel": "email",
        "topic": "promotions",
        "segment_id": str(segment.id),
        "template_id": template,
        "schedule": schedule or {"kind": "now"},
        **extra,
    }
    created = api.post("/campaigns", json=body)
    assert created.status_code == 201, created.get_json()
    cid = created.get_json()["id"]
    scheduled = api.post(f"/campaigns/{cid}/schedule")
    assert scheduled.status_code == 200, scheduled.get_json()
    return cid


def fanned_out(cid: str) -> bool:
    """Every batch of the campaign's current run is published (the campaign itself stays
    ``sending`` until every delivery is terminal: services/campaigns/completion.py)."""
    from bson import ObjectId

    from services.campaigns.store import campaigns, runs

    run_id = (campaigns().find_one({"_id": ObjectId(cid)}, {"current_run": 1}) or {}).get("current_run")
    return bool(run_id) and (runs().find_one({"_id": run_id}, {"state": 1}) or {}).get("state") == "done"
