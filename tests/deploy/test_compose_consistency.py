"""docker-compose.yml and deploy/*.Dockerfile agree with the code.

No Docker engine runs here, so this reads the files the way Compose and the
builder would and checks them against what the code really has: the services
and parts come from the entry points themselves (devstack.inventory), the
required settings from each Settings dataclass. A new part in the code fails
``test_every_part_of_the_code_has_a_container`` until it gets its block in
docker-compose.yml; nothing here lists services or parts by hand.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.metadata
import importlib.util
import re
import secrets
import sys

import pytest
import yaml
from packaging.requirements import Requirement

from devstack import inventory
from shared.settings import ConfigError

ROOT = inventory.ROOT
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
CONTAINERS = COMPOSE["services"]
EXAMPLE_ENV = dict(
    line.split("=", 1)
    for line in (ROOT / "deploy/example.env").read_text().splitlines()
    if line.strip() and not line.lstrip().startswith("#")
)
# The example's secret is refused at start-up (tests/security/test_config.py): a deployment
# sets its own, as the example's comment says.
EXAMPLE_ENV["VINCULO_SECRET_KEY"] = secrets.token_urlsafe(32)
EXAMPLE_ENV["VINCULO_API_KEYS"] = ",".join(
    f"{secrets.token_urlsafe(16)}:{role}" for role in ("admin", "marketer")
)
VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: str, env: dict) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, from .env (the example)."""

    def one(match):
        name, op, arg = match.groups()
        if name in env and (env[name] or not (op or "").startswith(":")):
            return env[name]
        if op and op.endswith("?"):
            raise AssertionError(
                f"${{{name}}} is required by docker-compose.yml but deploy/example.env "
                f"does not set it ({arg})"
            )
        return arg or ""

    return VARIABLE.sub(one, value)


def service_part(container: dict) -> tuple[str, str] | None:
    command = container.get("command") or []
    if command[:2] == ["python", "-m"] and command[2].startswith("services."):
        return command[2].split(".", 1)[1], command[3]
    return None


SERVICE_CONTAINERS = {name: service_part(c) for name, c in CONTAINERS.items() if service_part(c)}


def container_env(container: dict) -> dict:
    return {
        key: interpolate(str(value), EXAMPLE_ENV) for key, value in container.get("environment", {}).items()
    }


def dockerfile(service: str) -> str:
    return (ROOT / "deploy" / f"{service}.Dockerfile").read_text()


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(
        r"\\\n\s*", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    )
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
        for line in joined.splitlines()
        if line.strip()
    ]


# --- the parts -----------------------------------------------------------------


def test_every_container_command_is_a_real_entry_point():
    assert SERVICE_CONTAINERS, "no service containers found in docker-compose.yml"
    for name, (service, part) in SERVICE_CONTAINERS.items():
        assert service in inventory.services(), f"{name}: there is no services/{service}/__main__.py"
        assert part in inventory.parts(service), (
            f"{name}: python -m services.{service} accepts {inventory.parts(service)}, not {part!r}"
        )
        assert name == f"{service}-{part}", f"{name}: name it {service}-{part}"
    for name, container in CONTAINERS.items():
        command = container.get("command") or []
        if command[:2] == ["python", "-m"]:
            assert importlib.util.find_spec(command[2]) is not None, f"{name}: no module {command[2]}"


def test_every_part_of_the_code_has_a_container():
    deployed = set(SERVICE_CONTAINERS.values())
    missing = [
        f"{service}-{part}" for service, part in inventory.all_parts() if (service, part) not in deployed
    ]
    assert not missing, (
        f"parts without a container in docker-compose.yml: {missing}; add for each "
        "a block `<<: *<service>` and its command"
    )


# --- configuration ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SERVICE_CONTAINERS))
def test_the_container_environment_configures_the_service(name):
    service, part = SERVICE_CONTAINERS[name]
    module = inventory.settings_module(service)
    env = container_env(CONTAINERS[name])
    try:
        settings = module.load(env)  # every required field set, every value valid
    except ConfigError as exc:
        pytest.fail(
            f"{name}: {exc}. Set it under x-{service}: environment in docker-compose.yml "
            "(a secret as ${VAR:?...} from .env, listed in deploy/example.env)"
        )
    fields = {f.name for f in dataclasses.fields(module.Settings)}
    prefix = f"VINCULO_{module.PREFIX}_"
    unknown = [key for key in env if key.startswith(prefix) and key[len(prefix) :].lower() not in fields]
    assert not unknown, f"{name}: {unknown} are not settings of {service}"
    foreign = [
        key
        for key in env
        if key.startswith("VINCULO_")
        and not key.startswith(prefix)
        and key[len("VINCULO_") :].lower() not in fields
    ]
    assert not foreign, f"{name}: {foreign} are not settings of {service}"
    assert "mongo:27017" in settings.mongo_uri and "replicaSet=rs0" in settings.mongo_uri
    assert "@rabbitmq:5672" in settings.amqp_url
    assert settings.broker_namespace == "", "production uses the un-namespaced topology"
    host, _, port = settings.bind.rpartition(":")
    assert host == "0.0.0.0", f"{name}: the api must listen on all interfaces inside its container"
    expose = [args for op, args in instructions(dockerfile(service)) if op == "EXPOSE"]
    assert expose == [port], f"deploy/{service}.Dockerfile exposes {expose}, the bind port is {port}"
    if part == "api":
        published = [str(p).rsplit(":", 1)[-1] for p in CONTAINERS[name].get("ports", [])]
        assert published == [port], f"{name} publishes {published}, its bind port is {port}"
    else:
        assert settings.metrics_port > 0, (
            f"{name}: set VINCULO_{module.PREFIX}_METRICS_PORT for its health check"
        )


def test_store_and_broker_are_configured_for_transactions_and_persistence():
    mongo, rabbit = CONTAINERS["mongo"], CONTAINERS["rabbitmq"]
    assert mongo["image"] == "mongo:7"
    assert mongo["command"][:2] == ["--replSet", "rs0"]
    check = " ".join(mongo["healthcheck"]["test"])
    assert "rs.initiate" in check and "'rs0'" in check and "isWritablePrimary" in check
    assert "mongo-data:/data/db" in mongo["volumes"]
    assert rabbit["image"] == "rabbitmq:3.13-management"
    assert "rabbitmq-data:/var/lib/rabbitmq" in rabbit["volumes"]
    assert rabbit.get("hostname"), "RabbitMQ keeps its data under its node name: fix the host name"
    assert set(COMPOSE["volumes"]) >= {"mongo-data", "rabbitmq-data"}
    user = rabbit["environment"]["RABBITMQ_DEFAULT_USER"]
    password = interpolate(rabbit["environment"]["RABBITMQ_DEFAULT_PASS"], EXAMPLE_ENV)
    for name in SERVICE_CONTAINERS:
        assert f"amqp://{user}:{password}@" in container_env(CONTAINERS[name])["VINCULO_AMQP_URL"]
    for name in ("mongo", "rabbitmq"):
        assert CONTAINERS[name]["healthcheck"]["test"], f"{name} needs a health check"


@pytest.mark.parametrize("name", sorted(SERVICE_CONTAINERS))
def test_containers_start_in_order_and_workers_scale(name):
    service, part = SERVICE_CONTAINERS[name]
    container = CONTAINERS[name]
    depends = container["depends_on"]
    assert depends["mongo"]["condition"] == "service_healthy"
    assert depends["rabbitmq"]["condition"] == "service_healthy"
    assert depends["rabbitmq-topology"]["condition"] == "service_completed_successfully"
    assert "container_name" not in container, f"{name}: a fixed container name prevents --scale"
    if part != "api":
        assert "ports" not in container, f"{name}: a fixed host port prevents --scale"
    assert "healthcheck" not in container, f"{name}: the image's health check finds the part it runs"
    assert container["image"].startswith(f"vinculo/{service}:")
    assert container["build"] == {"context": ".", "dockerfile": f"deploy/{service}.Dockerfile"}
    assert container.get("restart") == "unless-stopped"
    assert container.get("init") is True, f"{name}: without an init, PID 1 neither reaps nor forwards signals"


# --- the images --------------------------------------------------------------------


@pytest.mark.parametrize("service", inventory.services())
def test_each_service_has_a_small_non_root_image_with_a_health_check(service):
    steps = instructions(dockerfile(service))
    froms = [args for op, args in steps if op == "FROM"]
    assert froms and all(args.split()[0] == "python:3.11-slim" for args in froms)
    runs = " ".join(args for op, args in steps if op == "RUN")
    assert "pip install --no-cache-dir -r /tmp/requirements.txt" in runs
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    copies = [args for op, args in final if op == "COPY"]
    for needed in (
        "shared/ shared/",
        "services/__init__.py services/__init__.py",
        f"services/{service}/ services/{service}/",
    ):
        assert needed in copies, f"deploy/{service}.Dockerfile must COPY {needed}"
    assert any("requirements.txt" in args for op, args in steps if op == "COPY")
    users = [args for op, args in final if op == "USER"]
    assert users and users[-1] not in ("root", "0"), "the service must not run as root"
    assert [op for op, _ in final].index("USER") < [op for op, _ in final].index("CMD")
    health = [args for op, args in final if op == "HEALTHCHECK"]
    # one check for every part: shared.healthcheck finds the part the container runs
    assert len(health) == 1 and health[0].endswith(f'CMD ["python", "-m", "shared.healthcheck", "{service}"]')
    cmd = [args for op, args in final if op == "CMD"]
    assert cmd == [f'["python", "-m", "services.{service}", "api"]']
    assert f"VINCULO_{service.upper()}_BIND=0.0.0.0:" in " ".join(args for op, args in final if op == "ENV")


def _imports(paths) -> set[str]:
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
    return names


def _required_distributions() -> set[str]:
    """requirements.txt and everything those pull in, by normalised name."""

    def norm(name):
        return re.sub(r"[-_.]+", "-", name).lower()

    todo = [
        line.split("==")[0].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    seen = set()
    while todo:
        name = norm(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for raw in importlib.metadata.requires(name) or []:
            requirement = Requirement(raw)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


@pytest.mark.parametrize("service", inventory.services())
def test_the_image_holds_everything_the_service_imports(service):
    code = [*(ROOT / "shared").rglob("*.py"), *(ROOT / "services" / service).rglob("*.py")]
    imported = _imports(code)
    own = [name for name in imported if name.split(".")[0] in ("services", "devstack", "tests")]
    outside = [name for name in own if not (name == "services" or name.startswith(f"services.{service}"))]
    assert not outside, f"services/{service} or shared/ imports {outside}, which its image does not copy"
    providers = importlib.metadata.packages_distributions()
    distributions = _required_distributions()
    for name in sorted({name.split(".")[0] for name in imported} - {"services", "shared"}):
        if name in sys.stdlib_module_names:
            continue
        provided_by = {re.sub(r"[-_.]+", "-", d).lower() for d in providers.get(name, [])}
        assert provided_by & distributions, f"{name} is imported but requirements.txt does not provide it"
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    for needed in ("!requirements.txt", "!shared/", "!services/"):
        assert needed in ignore, f".dockerignore must let {needed[1:]} into the build context"
