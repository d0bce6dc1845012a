"""Fixtures of the segments tests: the API app in-process, on the test's store and broker."""

from __future__ import annotations

import pytest

from tests.support import ADMIN_KEY, ANALYST_KEY, MARKETER_KEY


@pytest.fixture
def settings(service_env):
    from services.segments.settings import load

    return service_env.settings(load)


@pytest.fixture
def parts(settings):
    """The segments parts (settings, outbox) a worker builds, closed after the test."""
    from services.segments.bootstrap import build

    built = build(settings)
    yield built
    built.close()


@pytest.fixture
def app(settings):
    from services.segments.app import create_app

    return create_app(settings)


class Client:
    """The Flask test client with a role's key on every request."""

    def __init__(self, app, key):
        self.client = app.test_client()
        self.key = key

    def __getattr__(self, method):
        call = getattr(self.client, method)

        def request(*args, **kwargs):
            kwargs.setdefault("headers", {})["X-API-Key"] = self.key
            return call(*args, **kwargs)

        return request


@pytest.fixture
def api(app):
    return Client(app, MARKETER_KEY)


@pytest.fixture
def admin(app):
    return Client(app, ADMIN_KEY)


@pytest.fixture
def analyst(app):
    return Client(app, ANALYST_KEY)
