"""Fixtures of the reliability suite."""

from __future__ import annotations

import pytest

from tests.reliability.infra import PrivateRabbit


@pytest.fixture(scope="session")
def private_rabbit(tmp_path_factory):
    """One private RabbitMQ node per test process (booting one takes 10-40 s); restarted on purpose."""
    rabbit = PrivateRabbit(tmp_path_factory.mktemp("rabbit"))
    try:
        rabbit.start()
    except Exception:
        rabbit.stop()
        raise
    yield rabbit
    rabbit.stop()
