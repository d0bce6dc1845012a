"""Real parts the reliability scenarios break on purpose, without disturbing
the rest of the suite (which shares the RabbitMQ on :5672 and runs in
parallel):

* ``PrivateRabbit``: a RabbitMQ node of its own (own ports, own data folder),
  whose application can be restarted (``stop_app``/``start_app``: every
  connection drops, durable queues come back from disk);
* ``PrivateStore``: the store stand-in on its own port with its data on disk,
  stopped and started again on the same port;
* ``SmtpSink``: a real SMTP server (aiosmtpd) on loopback keeping every message
  it receives, for asserting what customers got;
* ``kill9``: SIGKILL, no goodbye.

The stand-in is used for store restarts even when the suite runs against a
real MongoDB (VINCULO_TEST_MONGO_URI), since a test cannot restart that one.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path

from devstack import procs

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")  # the scripts themselves: /usr/sbin's wrappers switch user


class PrivateRabbit:
    """A throw-away RabbitMQ node on free ports; ``url`` is its AMQP URL (guest)."""

    def __init__(self, base: Path, name: str = "vreliab"):
        if not (RABBIT_BIN / "rabbitmq-server").exists():
            raise RuntimeError(
                "rabbitmq-server is not installed (apt-get install rabbitmq-server): the "
                "broker-restart scenario runs its own node"
            )
        self.base = Path(base)
        self.port = procs.free_port()
        self.node = f"{name}{self.port}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.proc: subprocess.Popen | None = None
        self.base.mkdir(parents=True, exist_ok=True)
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        (self.base / "plugins").write_text("[].\n")
        (self.base / "env.conf").write_text("")

    def env(self) -> dict:
        return {
            "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
            "HOME": str(self.base),
            "LANG": "C.UTF-8",
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "env.conf"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_DIST_PORT": str(procs.free_port()),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.base / "pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "plugins"),
        }

    def start(self, timeout: float = 180) -> PrivateRabbit:
        log = open(self.base / "server.log", "ab")
        self.proc = subprocess.Popen(
            [str(RABBIT_BIN / "rabbitmq-server")],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.wait_for_port("127.0.0.1", self.port, timeout, self.proc, f"the private RabbitMQ {self.node}")
        return self

    def ctl(self, *args: str, timeout: float = 120) -> None:
        done = subprocess.run(
            [str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl {' '.join(args)} failed: {done.stdout[-500:]} {done.stderr[-500:]}"
            )

    def stop_app(self) -> None:
        """The broker goes away: connections drop, the port closes."""
        self.ctl("stop_app")

    def start_app(self, timeout: float = 120) -> None:
        self.ctl("start_app")
        procs.wait_for_port("127.0.0.1", self.port, timeout, self.proc, f"the private RabbitMQ {self.node}")

    def restart(self) -> None:
        self.stop_app()
        self.start_app()

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            self.ctl("shutdown", timeout=60)
        except Exception:  # noqa: BLE001 - fall back to signals
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None
        shutil.rmtree(self.base / "mnesia", ignore_errors=True)


class PrivateStore:
    """The store stand-in on one port with its data on disk, restartable."""

    def __init__(self, base: Path):
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.port = procs.free_port()
        self.proc: subprocess.Popen | None = None

    def uri(self, database: str) -> str:
        return f"mongodb://127.0.0.1:{self.port}/{database}"

    def start(self) -> PrivateStore:
        self.proc, _ = procs.start_mongo_standin(
            self.port, data_dir=str(self.base / "data"), log_path=self.base / "standin.log"
        )
        return self

    def stop(self) -> None:
        if self.proc is not None:
            procs.stop(self.proc)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


class SmtpSink:
    """A real SMTP server on loopback; ``messages`` are the parsed emails it got."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                message = email.message_from_bytes(
                    envelope.original_content or envelope.content, policy=email.policy.default
                )
                with sink._lock:
                    sink.messages.append(message)
                    sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return "250 OK"

        # port=0 does not work with aiosmtpd's Controller (it connects to itself): pick one.
        self.port = procs.free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def recipients(self) -> list[str]:
        """Every RCPT TO, once per delivery (duplicates show up twice)."""
        with self._lock:
            return [rcpt for _, rcpts in self.envelopes for rcpt in rcpts]


def kill9(proc: subprocess.Popen) -> None:
    """SIGKILL: the process gets no chance to finish or ack anything."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
