"""The local run: everything on embedded defaults, with demo data.

Starts the MongoDB stand-in (data in ./var/store, kept between runs; the
folder is VINCULO_RUN_DIR, the ports VINCULO_RUN_PORT_BASE + 1..4, the web
console on VINCULO_RUN_PORT_BASE + 0) unless
VINCULO_MONGO_URI is set; uses RabbitMQ at VINCULO_AMQP_URL or 127.0.0.1:5672,
starting it (or installing it, as root) when it is not running; then each
service's api and worker as separate processes, seeds the demo data and
prints the URLs. A part that dies is restarted (devstack.supervise); one that
keeps dying, or the store or a mail server dying, stops the run. Ctrl-C and
SIGTERM stop everything it started. The broker namespace is ``run<port base>.``
unless VINCULO_BROKER_NAMESPACE is set, so two runs on one machine (different
port bases) never share a queue.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from devstack import procs
from devstack.supervise import KeepsDying, Supervisor

ROOT = procs.ROOT
SERVICES = {"segments": 1, "campaigns": 2, "mailer": 3, "listener": 4}  # port = base + offset
# Parts each service runs besides its api (a service lists a part once it has it).
PARTS = {
    "segments": ["worker"],
    "campaigns": ["worker", "scheduler"],
    "mailer": ["worker"],
    "listener": ["poller"],
}
DEMO_KEYS = {
    "admin": "demo-admin-key",
    "marketer": "demo-marketer-key",
    "community_manager": "demo-cm-key",
    "analyst": "demo-analyst-key",
}


def say(message: str) -> None:
    print(f"vinculo: {message}", flush=True)


def local_secret(var: Path) -> str:
    """This run folder's own secret (generated once, kept in var/secret so links survive a
    restart): a secret written in the repository would be refused at start-up."""
    path = var / "secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Run Vínculo locally with demo data.")
    parser.add_argument("--no-demo", action="store_true", help="do not seed demo data")
    parser.add_argument(
        "--check",
        action="store_true",
        help="start, seed, verify every service is ready, then stop (for tests)",
    )
    args = parser.parse_args(argv)

    var = Path(os.environ.get("VINCULO_RUN_DIR", ROOT / "var"))
    var.mkdir(parents=True, exist_ok=True)
    base_port = int(os.environ.get("VINCULO_RUN_PORT_BASE", "8000"))
    started: list[subprocess.Popen] = []  # the store and the mail servers: not restarted
    supervisor = Supervisor.from_environ(say)

    def stop_all(*_):
        supervisor.stop_all(procs.stop)
        for proc in reversed(started):
            procs.stop(proc)

    signal.signal(signal.SIGTERM, lambda *_: (stop_all(), sys.exit(0)))
    try:
        mongo_uri = os.environ.get("VINCULO_MONGO_URI")
        if not mongo_uri:
            (var / "store").mkdir(exist_ok=True)
            port = int(os.environ.get("VINCULO_STANDIN_PORT", "27017"))
            if procs.port_open("127.0.0.1", port):
                port = procs.free_port()
            proc, port = procs.start_mongo_standin(
                port, data_dir=str(var / "store"), log_path=var / "store.log"
            )
            started.append(proc)
            mongo_uri = f"mongodb://127.0.0.1:{port}/vinculo"
            say(f"store: MongoDB stand-in on 127.0.0.1:{port} (data in {var / 'store'})")
        amqp_url = os.environ.get("VINCULO_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
        if "127.0.0.1" in amqp_url or "localhost" in amqp_url:
            if not procs.port_open("127.0.0.1", 5672):
                say(
                    "RabbitMQ is not running on 127.0.0.1:5672: starting it "
                    "(installing it first if needed; this can take a minute)"
                )
            try:
                say(procs.ensure_rabbitmq(install=True))
            except procs.StartError as exc:
                say(f"cannot run without RabbitMQ: {exc}")
                return 1
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "VINCULO_MONGO_URI": mongo_uri,
            "VINCULO_AMQP_URL": amqp_url,
            "VINCULO_API_KEYS": os.environ.get(
                "VINCULO_API_KEYS", ",".join(f"{key}:{role}" for role, key in DEMO_KEYS.items())
            ),
            "VINCULO_SECRET_KEY": os.environ.get("VINCULO_SECRET_KEY") or local_secret(var),
            "VINCULO_WEB_WORKERS": "1",
            # local development: feeds and webhooks may point at servers on this machine
            # (off by default in a deployment; SECURITY.md, "Outbound requests")
            "VINCULO_ALLOW_PRIVATE_URLS": os.environ.get("VINCULO_ALLOW_PRIVATE_URLS", "true"),
            "VINCULO_BROKER_NAMESPACE": os.environ.get("VINCULO_BROKER_NAMESPACE", f"run{base_port}."),
        }
        os.environ["VINCULO_BROKER_NAMESPACE"] = env["VINCULO_BROKER_NAMESPACE"]  # the demo data's publisher
        say(f"broker: {amqp_url.split('@')[-1]} (names prefixed {env['VINCULO_BROKER_NAMESPACE']!r})")
        busy = [
            base_port + offset
            for offset in (0, *SERVICES.values())
            if procs.port_open("127.0.0.1", base_port + offset)
        ]
        if busy:
            say(f"ports {busy} are in use (another run?): stop it or set VINCULO_RUN_PORT_BASE")
            return 1
        env.update(start_mail_servers(var, started))
        env["VINCULO_MAILER_PUBLIC_URL"] = f"http://127.0.0.1:{base_port + SERVICES['mailer']}"
        # the preference center asks segments (owner of Customer and the timeline) to correct and
        # erase profiles, and for a customer's interactions in "my data"
        env["VINCULO_MAILER_SEGMENTS_URL"] = f"http://127.0.0.1:{base_port + SERVICES['segments']}"
        env.setdefault("VINCULO_MAILER_SEGMENTS_API_KEY", DEMO_KEYS["marketer"])
        # the preference center's "my data" asks the listener (owner of mentions)
        env["VINCULO_MAILER_LISTENER_URL"] = f"http://127.0.0.1:{base_port + SERVICES['listener']}"
        env.setdefault("VINCULO_MAILER_LISTENER_API_KEY", DEMO_KEYS["marketer"])
        # campaigns asks the mailer (owner of templates) about a campaign's templates
        env["VINCULO_CAMPAIGNS_MAILER_URL"] = f"http://127.0.0.1:{base_port + SERVICES['mailer']}"
        env.setdefault("VINCULO_CAMPAIGNS_MAILER_API_KEY", DEMO_KEYS["marketer"])
        for service, offset in SERVICES.items():
            port = base_port + offset
            prefix = service.upper()
            service_env = {
                **env,
                f"VINCULO_{prefix}_BIND": f"127.0.0.1:{port}",
                f"VINCULO_{prefix}_WEB_WORKERS": "1",
            }
            for part in ["api", *PARTS.get(service, [])]:
                supervisor.add(
                    f"{service}-{part}",
                    [sys.executable, "-m", f"services.{service}", part],
                    service_env,
                    var / f"{service}-{part}.log",
                    ROOT,
                )
        urls = {service: f"http://127.0.0.1:{base_port + offset}" for service, offset in SERVICES.items()}
        for service, url in urls.items():
            wait_ready(service, url, [*started, *supervisor.processes])
        console = start_console(env, urls, base_port, var, started, supervisor)
        if not args.no_demo:
            from devstack import demo

            say(demo.seed(mongo_uri, urls, DEMO_KEYS["admin"]))
            from services.console.accounts import demo_admin

            say(demo_admin(mongo_uri))  # a person's account: sign in to the console with it
        say("ready:")
        say(f"  console    {console}  (sign in with the demo admin above, or an API key below)")
        for service, url in urls.items():
            say(f"  {service:<10} {url}  (API: {url}/openapi.json)")
        say(f"API keys: {', '.join(f'{role}={key}' for role, key in DEMO_KEYS.items())}")
        say(f"logs in {var}/*.log; a part that dies is restarted; press Ctrl-C to stop")
        if args.check:
            return 0
        while all(proc.poll() is None for proc in started):
            supervisor.tick()
            time.sleep(0.2)
        failed = [proc.args for proc in started if proc.poll() is not None]
        say(f"a process stopped: {failed}; stopping everything (see var/*.log)")
        return 1
    except KeepsDying as exc:
        say(f"{exc}\nvinculo: stopping everything")
        return 1
    except KeyboardInterrupt:
        say("stopping")
        return 0
    finally:
        stop_all()


def start_console(
    env: dict, urls: dict, base_port: int, var: Path, started: list, supervisor: Supervisor
) -> str:
    """The web console on base+0, talking to the services' APIs; its URL once it answers."""
    console_env = {
        **env,
        "VINCULO_CONSOLE_BIND": f"127.0.0.1:{base_port}",
        "VINCULO_CONSOLE_WEB_WORKERS": "1",
        **{f"VINCULO_CONSOLE_{service.upper()}_URL": url for service, url in urls.items()},
    }
    supervisor.add(
        "console-api",
        [sys.executable, "-m", "services.console", "api"],
        console_env,
        var / "console-api.log",
        ROOT,
    )
    url = f"http://127.0.0.1:{base_port}"
    wait_ready("console", url, [*started, *supervisor.processes])
    return url


def start_mail_servers(var: Path, started: list) -> dict:
    """A local SMTP server (messages in var/mail/*.eml) and SMS API for the mailer to deliver to."""
    smtp_port, sms_port = procs.free_port(), procs.free_port()
    for module, args, port in (
        ("devstack.smtp", ["--folder", str(var / "mail")], smtp_port),
        ("devstack.sms", [], sms_port),
    ):
        log = open(var / f"{module.split('.')[1]}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", module, "--port", str(port), *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(proc)
        procs.wait_for_port("127.0.0.1", port, 20, proc, module)
    say(f"mail: SMTP on 127.0.0.1:{smtp_port} (messages in {var / 'mail'}), SMS API on 127.0.0.1:{sms_port}")
    return {
        "VINCULO_MAILER_SMTP_PORT": str(smtp_port),
        "VINCULO_MAILER_SMS_BASE_URL": f"http://127.0.0.1:{sms_port}",
    }


def wait_ready(service: str, url: str, started: list, timeout: float = 60, path: str = "/readyz") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}{path}", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        dead = [p for p in started if p.poll() is not None]
        if dead:
            raise SystemExit(f"vinculo: {dead[0].args} exited; see var/*.log")
        time.sleep(0.2)
    raise SystemExit(
        f"vinculo: {service} was not ready at {url} within {timeout:.0f} s; see var/{service}-api.log"
    )


if __name__ == "__main__":
    sys.exit(main())
