"""The README's settings table is the generated one, and the CI workflow runs
the test command against a real MongoDB replica set and RabbitMQ."""

from __future__ import annotations

import yaml

from devstack import envdoc, inventory

ROOT = inventory.ROOT


def test_the_readme_settings_table_is_generated_from_the_settings_dataclasses():
    assert envdoc.current() == envdoc.block(), (
        "README.md's settings table is out of date: run `python -m devstack.envdoc --write`"
    )
    for service in inventory.services():
        module = inventory.settings_module(service)
        assert f"`VINCULO_{module.PREFIX}_BIND`" in envdoc.current()


def test_the_ci_workflow_runs_the_test_command_against_real_mongodb_and_rabbitmq():
    workflow = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    job = workflow["jobs"]["test"]
    assert job["services"]["rabbitmq"]["image"] == "rabbitmq:3.13-management"
    assert "5672:5672" in job["services"]["rabbitmq"]["ports"]
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert "mongo:7 --replSet rs0" in script and "rs.initiate" in script
    assert "VINCULO_TEST_MONGO_URI=mongodb://127.0.0.1:27017" in script
    assert "VINCULO_TEST_AMQP_URL=amqp://vinculo:vinculo@127.0.0.1:5672//" in script
    env = job["services"]["rabbitmq"]["env"]
    assert (env["RABBITMQ_DEFAULT_USER"], env["RABBITMQ_DEFAULT_PASS"]) == ("vinculo", "vinculo")
    assert "apt-get install" in script and "chromium" in script and "rabbitmq-server" in script
    ci_run = (ROOT / ".ci/run").read_text()
    assert ".ci/run" in script and "./scripts/test " in ci_run and "./scripts/test-containers" in ci_run
    assert "exec " not in ci_run, ".ci/run must run both steps and fail when either does"
    assert job["timeout-minutes"] <= 90
