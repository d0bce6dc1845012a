"""Finding 20: a secret published in the repository never signs anything, and /readyz's 503
answers the documented error shape."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from shared.settings import ConfigError, parse_secret
from tests.support import ROOT

EXAMPLE = dict(
    line.split("=", 1)
    for line in (ROOT / "deploy/example.env").read_text().splitlines()
    if line.strip() and not line.lstrip().startswith("#")
)


def published_secrets() -> set[str]:
    """Every literal the repository gives VINCULO_SECRET_KEY (examples, defaults, docs)."""
    found = {EXAMPLE["VINCULO_SECRET_KEY"]}
    pattern = re.compile(
        r"""VINCULO_SECRET_KEY["']?\s*[:=,]\s*(?:os\.environ\.get\([^,]+,\s*)?["']([^"'$\s]{16,})["']"""
    )
    for path in ROOT.rglob("*"):
        if (
            path.suffix in {".py", ".yml", ".yaml", ".env", ".md", ".toml", ".sh"}
            and path.is_file()
            and not {".venv", "var", ".git"} & set(path.relative_to(ROOT).parts)
        ):
            found.update(pattern.findall(path.read_text(errors="replace")))
    return {value for value in found if not re.fullmatch(r"[A-Z0-9_]+", value)}  # not a variable's name


def test_the_example_secret_is_refused_naming_the_variable(service_env):
    from services.segments.settings import load

    with pytest.raises(ConfigError, match="VINCULO_SECRET_KEY"):
        load({**service_env.env(), "VINCULO_SECRET_KEY": EXAMPLE["VINCULO_SECRET_KEY"]})


def test_the_example_api_keys_are_refused_naming_the_variable(service_env):
    from services.segments.settings import load

    with pytest.raises(ConfigError, match="VINCULO_API_KEYS .*admin key"):
        load({**service_env.env(), "VINCULO_API_KEYS": EXAMPLE["VINCULO_API_KEYS"]})


def test_every_secret_published_in_the_repository_is_refused():
    secrets = published_secrets()
    assert EXAMPLE["VINCULO_SECRET_KEY"] in secrets
    for secret in secrets:
        with pytest.raises(ValueError, match="published"):
            parse_secret(secret)
    assert parse_secret("a-secret-of-my-own-0123456789") == "a-secret-of-my-own-0123456789"


def test_a_service_started_with_the_example_secret_stops_with_the_variable_named(service_env):
    env = service_env.env(VINCULO_SECRET_KEY=EXAMPLE["VINCULO_SECRET_KEY"])
    done = subprocess.run(
        [sys.executable, "-m", "services.segments", "api"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "VINCULO_SECRET_KEY" in done.stderr + done.stdout


def test_the_local_run_generates_and_keeps_its_own_secret(tmp_path):
    from devstack.run import local_secret

    first = local_secret(tmp_path)
    assert parse_secret(first) == first and local_secret(tmp_path) == first
    (tmp_path / "other").mkdir()
    assert local_secret(tmp_path / "other") != first


def test_readyz_503_answers_the_error_shape(service_env):
    from services.listener.app import create_app
    from services.listener.settings import load

    app = create_app(service_env.settings(load, amqp_url="amqp://guest:guest@127.0.0.1:1//"))
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    body = ready.get_json()
    assert set(body) == {"error", "message", "details"} and body["error"] == "unavailable"
    assert "broker" in body["message"] and body["details"]["checks"]["store"] == "ok"
