"""Real parts for every test: the store server, RabbitMQ, and helpers to run
service processes.

* The store: ``VINCULO_TEST_MONGO_URI`` (a real MongoDB, e.g.
  ``mongodb://127.0.0.1:27017``) or else the project's stand-in, started once
  per test process on a free port. Each test gets its own database.
* RabbitMQ: ``VINCULO_TEST_AMQP_URL`` or ``amqp://guest:guest@127.0.0.1:5672//``;
  if it does not answer, the run stops with an error (never a skip). Each
  test gets its own name prefix, deleted afterwards.
"""

from __future__ import annotations

import os
import uuid

import pytest

from devstack import procs
from tests.support import ServiceEnv, broker_cleanup

DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672//"


@pytest.fixture(scope="session")
def store_base_uri(tmp_path_factory):
    uri = os.environ.get("VINCULO_TEST_MONGO_URI")
    if uri:
        yield uri.rstrip("/")
        return
    try:
        proc, port = procs.start_mongo_standin(
            data_dir="memory", log_path=tmp_path_factory.mktemp("store") / "standin.log"
        )
    except procs.StartError as exc:
        pytest.exit(f"the store server could not start: {exc}", returncode=3)
    yield f"mongodb://127.0.0.1:{port}"
    procs.stop(proc)


@pytest.fixture(scope="session")
def amqp_url():
    url = os.environ.get("VINCULO_TEST_AMQP_URL", DEFAULT_AMQP)
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=2)
    except Exception as exc:  # noqa: BLE001
        pytest.exit(
            f"RabbitMQ is not reachable at {url}: {exc}. The test command starts it; see README.",
            returncode=3,
        )
    return url


@pytest.fixture
def mongo_uri(store_base_uri):
    """A fresh database for this test, connected as the default alias."""
    from shared import store
    from shared.documents import prepare_store

    uri = f"{store_base_uri}/t_{uuid.uuid4().hex[:12]}"
    prepare_store(uri)
    yield uri
    try:
        store.db().client.drop_database(store.database_name(uri))
    finally:
        store.disconnect()


@pytest.fixture
def namespace(amqp_url):
    """A broker name prefix for this test; its queues and exchanges are deleted after."""
    ns = f"t{uuid.uuid4().hex[:10]}."
    yield ns
    broker_cleanup(amqp_url, ns)


# Fixtures that start or reach a real part; a test using none of them (and not marked slow:
# those start their own processes) is marked `unit`,
# so `pytest -m unit` runs the tests that need no store, broker or process, in seconds.
INFRASTRUCTURE = {"store_base_uri", "mongo_uri", "amqp_url", "namespace", "service_env"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if not INFRASTRUCTURE & set(getattr(item, "fixturenames", ())) and not item.get_closest_marker(
            "slow"
        ):
            item.add_marker(pytest.mark.unit)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (``service_env`` reads it)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def service_env(request, mongo_uri, amqp_url, namespace, tmp_path):
    """Environment and settings for running service code and processes in this test.

    When the test failed, the tail of each process's log is printed, so a
    failure on CI shows what the services were doing.
    """
    env = ServiceEnv(mongo_uri=mongo_uri, amqp_url=amqp_url, namespace=namespace, tmp_path=tmp_path)
    yield env
    processes = list(env.processes)
    env.stop_all()
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        env.print_logs(processes)
