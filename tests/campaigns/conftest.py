"""Fixtures of the campaigns tests: the API in-process, segments and templates
written straight to the store (their services are not on this branch)."""

from __future__ import annotations

import pytest
from bson import ObjectId, json_util

from shared import store
from shared.models import Customer, Segment
from tests.support import MARKETER_KEY


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
def settings(service_env):
    from services.campaigns.settings import load

    return service_env.settings(load, scheduler_poll_seconds=0.2, fanout_batch_size=100,
                                fanout_lease_seconds=3.0)


@pytest.fixture
def app(settings):
    from services.campaigns.app import create_app

    app = create_app(settings)
    yield app
    app.extensions["campaigns_announcer"].close()


@pytest.fixture
def api(app):
    return Api(app.test_client())


def make_template(channel="email", archived=False, name="t") -> str:
    oid = ObjectId()
    store.db()["templates"].insert_one({"_id": oid, "name": name, "channel": channel, "archived": archived})
    return str(oid)


def make_segment(query=None, kind="dynamic", name="seg") -> Segment:
    return Segment(name=name, kind=kind, compiled=json_util.dumps(query if query is not None else {"locale": "es"})
                   if kind == "dynamic" else None).save()


def make_customers(n, locale="es", prefix="c") -> list[ObjectId]:
    docs = [{"email": f"{prefix}{i}@example.com", "locale": locale, "erased": False} for i in range(n)]
    ids = Customer._get_collection().insert_many(docs).inserted_ids
    return sorted(ids)


@pytest.fixture
def template():
    return make_template()


@pytest.fixture
def segment():
    return make_segment()
