"""Every API in-process (Flask test client) on the test's own store and broker."""

from __future__ import annotations

import pytest

from tests.support import MARKETER_KEY


class Api:
    """A service's test client with a role's key on every request."""

    def __init__(self, app, key=MARKETER_KEY):
        self.app = app
        self.client = app.test_client()
        self.key = key

    def __call__(self, method, path, key=None, headers=None, **kwargs):
        headers = {"X-API-Key": key or self.key, **(headers or {})}
        return self.client.open(path, method=method.upper(), headers=headers, **kwargs)


def service_settings(service: str, service_env, **overrides):
    module = __import__(f"services.{service}.settings", fromlist=["load"])
    if service == "mailer":
        overrides = {"public_url": "https://mailer.example", "quiet_hours": "", **overrides}
    return service_env.settings(module.load, **overrides)


def service_app(service: str, service_env, **overrides):
    module = __import__(f"services.{service}.app", fromlist=["create_app"])
    return module.create_app(service_settings(service, service_env, **overrides))


@pytest.fixture
def apps(service_env):
    """``apps("segments")`` -> Api of that service (built once per test)."""
    built = {}

    def get(service: str, **overrides) -> Api:
        if service not in built:
            built[service] = Api(service_app(service, service_env, **overrides))
        return built[service]

    return get


@pytest.fixture
def segments(apps):
    return apps("segments")


@pytest.fixture
def mailer(apps):
    return apps("mailer")
