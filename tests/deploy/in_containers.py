"""The deploy files, proven: every image built with podman and every part of
every service run in its own container (``./scripts/test-containers`` runs
this file; the test command's pytest run does not collect it).

What a newcomer does with Docker (README, Deploy), done here with podman on
the host network, against the store stand-in and RabbitMQ on 127.0.0.1 (no
registry and no bridge network on these machines): build each
``deploy/<service>.Dockerfile``, declare the broker topology from an image,
start every part (``python -m services.<service> <part>``, every one the code
has) with ``--init``, check /healthz, /readyz and each container's own
health check, send one campaign through the containers to a local SMTP
server, upgrade the mailer's worker to a rebuilt image in the middle of a
second campaign (every message sent exactly once), stop everything with
SIGTERM (exit 0 each) and validate docker-compose.yml with podman-compose.

Needs ``CONTAINERS_CONF`` (this sandbox's podman settings) and the base
image, which ``scripts/test-containers`` provides. Tests run in file order
and share the containers (module scope): each assertion names the container
and shows the end of its log.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from devstack import inventory, procs
from devstack.smtp import SmtpServer
from shared import store
from shared.documents import prepare_store
from tests.reliability.campaign import CampaignRun, assert_received_once, mailer_env
from tests.support import (
    API_KEYS,
    MARKETER_KEY,
    ROOT,
    SECRET,
    ServiceEnv,
    consumers_on,
    wait_consuming,
    wait_until,
)

TAG = "test"
PODMAN = "podman"
RUN_ID = uuid.uuid4().hex[:8]
STOP_GRACE = 30  # seconds podman waits after SIGTERM (compose: stop_grace_period)
# Host network: every api and metrics server needs a port of its own. Taken from a base of
# their own, below the ephemeral range the other tests' free ports come from (a free port
# picked but not yet bound by a starting container can be handed out again).
PORT_BASE = int(os.environ.get("VINCULO_CONTAINERS_PORT_BASE", "9150"))


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([PODMAN, *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(args[:3])} ... failed ({done.returncode}):\n"
            f"{done.stderr[-3000:]}{done.stdout[-1000:]}"
        )
    return done


def cgroup_parent() -> str:
    """Containers go under this session's own cgroup, so they end with it."""
    if os.environ.get("VINCULO_CGROUP_PARENT"):
        return os.environ["VINCULO_CGROUP_PARENT"]
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "memory":
            return f"{path.rstrip('/')}/vinculo-containers"
    return "/vinculo-containers"


def image(service: str, tag: str = TAG) -> str:
    return f"localhost/vinculo/{service}:{tag}"


def build(service: str, log_dir: Path, tag: str = TAG, *extra: str) -> str:
    log = log_dir / f"build-{service}-{tag}.log"
    with open(log, "w") as out:
        done = subprocess.run(
            [
                PODMAN,
                "build",
                "--format",
                "docker",
                "--network=host",
                "--pull=never",
                # a cgroup of its own: a build's container takes its parent's path as is
                f"--cgroup-parent={cgroup_parent()}/build-{RUN_ID}-{service}-{tag}",
                *extra,
                "-f",
                f"deploy/{service}.Dockerfile",
                "-t",
                image(service, tag),
                ".",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=600,
        )
    assert done.returncode == 0, (
        f"podman build of deploy/{service}.Dockerfile failed; last lines of {log}:\n"
        + log.read_text()[-4000:]
    )
    return image(service, tag)


def logs(name: str, tail: int = 40) -> str:
    done = podman("logs", "--tail", str(tail), name, check=False, timeout=30)
    return f"--- last lines of container {name} ---\n{done.stdout}{done.stderr}"


def state(name: str) -> dict:
    out = podman(
        "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name, timeout=30
    ).stdout.split()
    return {"status": out[0], "exit": int(out[1])}


class Deployment:
    """Every part in its own container; what each was started with."""

    def __init__(self, env: ServiceEnv, smtp: SmtpServer, x_base: str):
        self.env, self.smtp, self.x_base = env, smtp, x_base
        self.containers: dict[str, dict] = {}  # name -> {"service", "part", "image"}
        self.urls: dict[str, str] = {}
        self.next_port = PORT_BASE
        self.ports = {service: self.port() for service in inventory.services()}
        self.urls = {service: f"http://127.0.0.1:{port}" for service, port in self.ports.items()}

    def port(self) -> int:
        """The next port from PORT_BASE that nothing listens on."""
        while True:
            port, self.next_port = self.next_port, self.next_port + 1
            assert port < PORT_BASE + 100, f"no free port in {PORT_BASE}-{PORT_BASE + 99}"
            if not procs.port_open("127.0.0.1", port):
                return port

    def environment(self, service: str, part: str) -> dict:
        prefix = f"VINCULO_{service.upper()}_"
        env = {
            "VINCULO_MONGO_URI": self.env.mongo_uri,
            "VINCULO_AMQP_URL": self.env.amqp_url,
            "VINCULO_API_KEYS": API_KEYS,
            "VINCULO_SECRET_KEY": SECRET,
            "VINCULO_BROKER_NAMESPACE": self.env.namespace,
            "VINCULO_LOG_LEVEL": "INFO",
            f"{prefix}BIND": f"127.0.0.1:{self.ports[service]}",
            f"{prefix}WEB_WORKERS": "1",
            # host network: each part's metrics server on its own port
            f"{prefix}METRICS_PORT": str(self.port()),
        }
        if service == "mailer":
            # a modest rate, so that a campaign of 50 takes several seconds; the production lease
            env.update({key: str(value) for key, value in mailer_env(self.smtp.port, rate=8).items()})
            env.update({"VINCULO_MAILER_FREQUENCY_CAP": "0", "VINCULO_MAILER_CLAIM_LEASE": "120"})
            # the owners' APIs the mailer asks (issue 14: no reading another service's collections)
            env.update(
                {
                    "VINCULO_MAILER_SEGMENTS_URL": self.urls["segments"],
                    "VINCULO_MAILER_SEGMENTS_API_KEY": MARKETER_KEY,
                    "VINCULO_MAILER_LISTENER_URL": self.urls["listener"],
                    "VINCULO_MAILER_LISTENER_API_KEY": MARKETER_KEY,
                }
            )
        if service == "campaigns":
            env.update(
                {
                    "VINCULO_CAMPAIGNS_FANOUT_BATCH_SIZE": "10",
                    "VINCULO_CAMPAIGNS_SCHEDULER_POLL_SECONDS": "0.3",
                    "VINCULO_CAMPAIGNS_MAILER_URL": self.urls["mailer"],
                    "VINCULO_CAMPAIGNS_MAILER_API_KEY": MARKETER_KEY,
                }
            )
        if service == "listener":
            env.update(
                {
                    "VINCULO_LISTENER_X_API_BASE": self.x_base,
                    "VINCULO_LISTENER_X_BEARER_TOKEN": "t-bearer",
                    "VINCULO_LISTENER_MASTODON_BASE_URL": self.x_base,
                }
            )
        if service == "console":
            env.update(
                {
                    f"VINCULO_CONSOLE_{other.upper()}_URL": url
                    for other, url in self.urls.items()
                    if other != "console"
                }
            )
        return env

    def start(self, service: str, part: str, tag: str = TAG, name: str | None = None) -> str:
        name = name or f"vinculo-{RUN_ID}-{service}-{part}"
        args = [
            "run",
            "-d",
            "--init",
            "--network=host",
            f"--cgroup-parent={cgroup_parent()}",
            f"--stop-timeout={STOP_GRACE}",
            "--name",
            name,
        ]
        for key, value in self.environment(service, part).items():
            args += ["-e", f"{key}={value}"]
        self.containers[name] = {"service": service, "part": part, "image": image(service, tag)}
        podman(*args, image(service, tag), "python", "-m", f"services.{service}", part)
        return name

    def named(self, service: str, part: str) -> list[str]:
        return [name for name, c in self.containers.items() if (c["service"], c["part"]) == (service, part)]

    def healthy(self, name: str) -> bool:
        if state(name)["status"] != "running":
            raise AssertionError(f"{name} is {state(name)}\n{logs(name)}")
        return podman("healthcheck", "run", name, check=False, timeout=60).returncode == 0

    def wait_healthy(self, name: str, timeout: float = 90) -> None:
        try:
            wait_until(
                lambda: self.healthy(name),
                timeout=timeout,
                interval=0.5,
                what=f"podman healthcheck run {name} to pass",
            )
        except AssertionError as exc:
            service = self.containers[name]["service"]
            why = podman("exec", name, "python", "-m", "shared.healthcheck", service, check=False, timeout=60)
            health = podman("inspect", "--format", "{{json .State.Health}}", name, check=False).stdout
            raise AssertionError(
                f"{exc}: {health[-2000:]}\nrun again: exit {why.returncode} {why.stdout}"
                f"{why.stderr}\n{logs(name)}"
            ) from None

    def stop(self, name: str) -> dict:
        podman("stop", "-t", str(STOP_GRACE), name, timeout=STOP_GRACE + 30)
        return state(name)

    def remove_all(self) -> None:
        if self.containers:
            podman("rm", "-f", "-t", "0", *self.containers, check=False, timeout=120)


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory) -> Path:
    if not os.environ.get("CONTAINERS_CONF"):
        pytest.fail(
            "run this through ./scripts/test-containers (it writes this machine's CONTAINERS_CONF, "
            "installs podman and makes the base image)"
        )
    return tmp_path_factory.mktemp("containers")


@pytest.fixture(scope="module")
def images(work_dir) -> dict[str, str]:
    """Every deploy/<service>.Dockerfile built (the builds share their first stage's layers)."""
    return {service: build(service, work_dir) for service in inventory.services()}


@pytest.fixture(scope="module")
def deployment(images, store_base_uri, amqp_url, work_dir):
    from tests.listener.fakes import start as start_fake_social
    from tests.support import broker_cleanup

    uri = f"{store_base_uri}/containers_{RUN_ID}"
    prepare_store(uri)
    env = ServiceEnv(mongo_uri=uri, amqp_url=amqp_url, namespace=f"ctr{RUN_ID}.", tmp_path=work_dir)
    social, x_base, _ = start_fake_social()
    with SmtpServer() as smtp:
        deployed = Deployment(env, smtp, x_base)
        try:
            # the topology first, from an image, as docker-compose.yml's rabbitmq-topology does
            declare = [
                "run",
                "--rm",
                "--network=host",
                f"--cgroup-parent={cgroup_parent()}",
                *[
                    arg
                    for key, value in deployed.environment("segments", "declare").items()
                    for arg in ("-e", f"{key}={value}")
                ],
                images["segments"],
                "python",
                "-m",
                "shared.messaging.declare",
            ]
            podman(*declare)
            for service, part in inventory.all_parts():
                deployed.start(service, part)
            yield deployed
        finally:
            failed = [
                name
                for name in deployed.containers
                if podman("inspect", "--format", "{{.State.ExitCode}}", name, check=False).stdout.strip()
                not in ("0", "")
            ]
            for name in failed:
                print(logs(name, 80))
            deployed.remove_all()
            social.shutdown()
            store.disconnect()
            broker_cleanup(amqp_url, env.namespace)


# --- the tests, in order ------------------------------------------------------------------------


def test_every_image_builds_with_its_health_check_and_a_non_root_user(images):
    for service, name in images.items():
        config = podman(
            "image", "inspect", "--format", "{{json .Config.Healthcheck.Test}} {{.Config.User}}", name
        ).stdout.strip()
        assert f'"shared.healthcheck","{service}"]' in config.replace(", ", ","), (service, config)
        assert config.endswith(" vinculo"), (service, config)


def test_every_part_answers_and_passes_its_own_health_check(deployment):
    for service, url in deployment.urls.items():
        name = deployment.named(service, "api")[0]
        for path in ("/healthz", "/readyz"):

            def answers(path=path, url=url):
                try:
                    return requests.get(f"{url}{path}", timeout=5).status_code == 200
                except requests.RequestException:
                    return False

            try:
                wait_until(answers, timeout=90, interval=0.5, what=f"{name} to answer {path}")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{logs(name)}") from None
        body = requests.get(f"{url}/readyz", timeout=5).json()
        assert body["status"] == "ready" and body["service"] == service, body
    for name in deployment.containers:
        deployment.wait_healthy(name)
    # no api logs an error (gunicorn's control socket wanted a home the image's user lacks)
    for name in deployment.containers:
        done = podman("logs", name, timeout=30)
        assert "[ERROR]" not in done.stdout + done.stderr, logs(name, 60)


def test_a_campaign_goes_through_the_containers_to_the_smtp_server(deployment):
    env, smtp = deployment.env, deployment.smtp
    for queue in ("mailer.send.requested", "campaigns.campaign.due"):
        wait_consuming(env.amqp_url, env.topology.name(queue), timeout=90)
    run = CampaignRun(env, smtp, urls=dict(deployment.urls))
    run.make_audience(4)  # three consenting customers, one without consent
    run.send_now()
    run.wait_finished(timeout=180)
    assert_received_once(run)
    message = smtp.mailbox.to(run.expected[0])[0].parsed()
    assert message["Subject"].startswith(("Hola Cliente", "Hi Cliente")), message["Subject"]
    assert message["List-Unsubscribe"], "a campaign message carries its unsubscribe link"


def test_a_rolling_upgrade_of_the_mailer_worker_sends_every_message_once(deployment, images, work_dir):
    """Version A runs; B (a rebuilt image) starts beside it; A gets SIGTERM mid-campaign."""
    env, smtp = deployment.env, deployment.smtp
    upgraded = build("mailer", work_dir, "next", "--label", f"org.opencontainers.image.version=next-{RUN_ID}")
    ids = {
        tag: podman("image", "inspect", "--format", "{{.Id}}", name).stdout.strip()
        for tag, name in (("a", images["mailer"]), ("b", upgraded))
    }
    assert ids["a"] != ids["b"], f"the rebuilt image is the same image: {ids}"
    old = deployment.named("mailer", "worker")[0]
    new = deployment.start("mailer", "worker", tag="next", name=f"vinculo-{RUN_ID}-mailer-worker-next")
    deployment.wait_healthy(new)
    queue = env.topology.name("mailer.send.requested")
    wait_until(lambda: consumers_on(env.amqp_url, queue) >= 2, timeout=90, what="versions A and B consuming")
    with smtp.mailbox.lock:
        smtp.mailbox.messages.clear()  # only this campaign's messages from here on
    run = CampaignRun(env, smtp, urls=dict(deployment.urls))
    run.make_audience(60)
    run.send_now()
    wait_until(
        lambda: len(smtp.mailbox.snapshot()) >= len(run.expected) // 4,
        timeout=120,
        interval=0.05,
        what="a quarter of the campaign to arrive",
    )
    arrived_at_stop = len(smtp.mailbox.snapshot())
    stopped = deployment.stop(old)
    assert stopped == {"status": "exited", "exit": 0}, f"{stopped}\n{logs(old)}"
    assert arrived_at_stop < len(run.expected), "the campaign ended before version A was stopped"
    run.wait_finished(timeout=240)
    copies = collections.Counter()
    for message in smtp.mailbox.snapshot():
        for rcpt in message.rcpt_tos:
            copies[(rcpt.lower(), message.parsed()["Message-ID"])] += 1
    per_recipient = collections.Counter(rcpt for rcpt, _ in copies.elements())
    assert set(per_recipient) == set(run.expected), sorted(set(per_recipient) ^ set(run.expected))
    more = {rcpt: n for rcpt, n in per_recipient.items() if n != 1}
    assert not more, f"sent more than once: {more}"
    assert_received_once(run)
    assert state(new)["status"] == "running", logs(new)
    print(f"rolling upgrade: {arrived_at_stop} of {len(run.expected)} messages sent when version A stopped")


def test_every_part_stops_on_sigterm_with_exit_status_0(deployment):
    running = [name for name in deployment.containers if state(name)["status"] == "running"]
    assert len(running) >= len(inventory.all_parts())
    started = time.monotonic()
    podman("stop", "-t", str(STOP_GRACE), *running, timeout=STOP_GRACE + 120)
    # exit 0, not 137: each stopped on SIGTERM, not on the kill after the grace period
    states = {name: state(name) for name in running}
    bad = {name: s for name, s in states.items() if s != {"status": "exited", "exit": 0}}
    assert not bad, f"{bad}\n" + "\n".join(logs(name) for name in bad)
    print(f"{len(running)} containers stopped in {time.monotonic() - started:.1f} s")


def test_the_compose_file_is_valid_with_the_example_env(tmp_path):
    compose = Path(sys.executable).parent / "podman-compose"
    assert compose.exists(), "podman-compose is missing: it is pinned in requirements-dev.txt"
    project = tmp_path / "project"
    project.mkdir()
    (project / "docker-compose.yml").write_text((ROOT / "docker-compose.yml").read_text())
    (project / ".env").write_text((ROOT / "deploy" / "example.env").read_text())
    done = subprocess.run(
        [str(compose), "-f", "docker-compose.yml", "config"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "segments-worker" in done.stdout and "mailer-api" in done.stdout
    # a required secret missing from .env is named
    env = (project / ".env").read_text().splitlines()
    (project / ".env").write_text(
        "\n".join(line for line in env if not line.startswith("VINCULO_SECRET_KEY="))
    )
    missing = subprocess.run(
        [str(compose), "-f", "docker-compose.yml", "config"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode != 0 and "VINCULO_SECRET_KEY" in missing.stdout + missing.stderr
