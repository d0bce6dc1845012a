"""Fixtures of the listener tests: the API in process on the real store, and
helpers to make mentions."""

from __future__ import annotations

import pytest

from tests.support import ADMIN_KEY, ANALYST_KEY, CM_KEY


class Api:
    def __init__(self, client, key=CM_KEY):
        self.client = client
        self.key = key

    def __call__(self, method, path, key=None, **kwargs):
        return self.client.open(path, method=method.upper(), headers={"X-API-Key": key or self.key}, **kwargs)


@pytest.fixture
def listener_settings(service_env):
    from services.listener.settings import load

    return service_env.settings(load, poll_interval=0.2, poll_idle=0.05, lease_seconds=30.0)


@pytest.fixture
def api(listener_settings):
    from services.listener.app import create_app

    app = create_app(listener_settings)
    app.testing = True
    return Api(app.test_client())


KEYS = {"admin": ADMIN_KEY, "cm": CM_KEY, "analyst": ANALYST_KEY}


@pytest.fixture
def fake():
    """A local server for X, Mastodon, RSS and webhooks: (base_url, state)."""
    from tests.listener.fakes import start

    server, base, state = start()
    yield base, state
    server.shutdown()
    server.server_close()


@pytest.fixture
def poller_settings(service_env, fake):
    from services.listener.settings import load

    base, _ = fake
    # The fake servers listen on 127.0.0.1: let feeds and webhooks reach them (off by default).
    return service_env.settings(
        load,
        poll_interval=0.0,
        poll_idle=0.05,
        lease_seconds=30.0,
        allow_private_urls=True,
        x_bearer_token="test-bearer",
        x_api_base=base,
        mastodon_base_url=base,
        http_timeout=5.0,
        max_rate_limit_wait=5.0,
        first_poll_pages=10,
        max_pages=10,
    )


@pytest.fixture
def make_poller(poller_settings):
    from services.listener.bootstrap import build
    from services.listener.poller import Poller

    made = []

    def make(**overrides):
        settings = poller_settings
        if overrides:
            import dataclasses

            settings = dataclasses.replace(poller_settings, **overrides)
        parts = build(settings)
        made.append(parts)
        return Poller(parts)

    yield make
    for parts in made:
        parts.close()
