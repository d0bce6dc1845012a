"""Settings: read once from the environment, fail fast naming the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from services.mailer.settings import load as load_mailer
from shared.settings import ConfigError
from tests.support import API_KEYS, ROOT, SECRET

GOOD = {
    "VINCULO_MONGO_URI": "mongodb://127.0.0.1:27017/vinculo",
    "VINCULO_AMQP_URL": "amqp://guest:guest@127.0.0.1:5672//",
    "VINCULO_API_KEYS": API_KEYS,
    "VINCULO_SECRET_KEY": SECRET,
}


def test_common_values_are_shared_and_service_prefix_wins():
    settings = load_mailer({**GOOD, "VINCULO_MAILER_MONGO_URI": "mongodb://db.internal:27017/mail"})
    assert settings.mongo_uri == "mongodb://db.internal:27017/mail"
    assert settings.api_keys["test-admin-key"] == "admin"
    assert settings.bind == "127.0.0.1:8003"


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("VINCULO_MONGO_URI", None, "VINCULO_MAILER_MONGO_URI (or VINCULO_MONGO_URI) is required"),
        (
            "VINCULO_MONGO_URI",
            "postgres://x/y",
            "VINCULO_MONGO_URI must be a URL starting with mongodb:// or mongodb+srv://",
        ),
        ("VINCULO_API_KEYS", "abcdefghij:owner", "VINCULO_API_KEYS unknown role 'owner'"),
        ("VINCULO_SECRET_KEY", "short", "VINCULO_SECRET_KEY must be at least 16 characters"),
        ("VINCULO_MAILER_WEB_WORKERS", "two", "VINCULO_MAILER_WEB_WORKERS must be a whole number"),
        ("VINCULO_TRUSTED_PROXIES", "-1", "VINCULO_TRUSTED_PROXIES must be 0 or more"),
        ("VINCULO_MAILER_TRUSTED_PROXIES", "nginx", "VINCULO_MAILER_TRUSTED_PROXIES must be a whole number"),
        (
            "VINCULO_MAILER_WORKER_MAX_ATTEMPTS",
            "0",
            "VINCULO_MAILER_WORKER_MAX_ATTEMPTS must be greater than 0",
        ),
    ],
)
def test_bad_values_name_the_variable(name, value, expected):
    env = dict(GOOD)
    if value is None:
        env.pop(name)
    else:
        env[name] = value
    with pytest.raises(ConfigError) as err:
        load_mailer(env)
    assert expected in str(err.value)


@pytest.mark.parametrize("service", ["segments", "campaigns", "mailer", "listener"])
def test_a_service_with_bad_configuration_stops_with_a_clear_message(service):
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        **GOOD,
        "VINCULO_AMQP_URL": "http://not-a-broker",
    }
    done = subprocess.run(
        [sys.executable, "-m", f"services.{service}", "api"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert (
        f"vinculo-{service}: configuration error: VINCULO_AMQP_URL must be a URL starting with "
        "amqp:// or amqps://, got 'http://not-a-broker'"
    ) in done.stderr
