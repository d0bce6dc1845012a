"""Start and wait for local infrastructure processes (stand-in store, RabbitMQ)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class StartError(RuntimeError):
    """A required local service could not be started."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(
    host: str, port: int, timeout: float, proc: subprocess.Popen | None = None, what: str = "service"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if proc is not None and proc.poll() is not None:
            raise StartError(f"{what} exited with code {proc.returncode} before listening on {host}:{port}")
        time.sleep(0.05)
    raise StartError(f"{what} did not listen on {host}:{port} within {timeout:.0f} s")


def start_mongo_standin(
    port: int | None = None, data_dir: str = "memory", log_path: str | os.PathLike | None = None
) -> tuple[subprocess.Popen, int]:
    """Start the patched wire-protocol server in its own process."""
    port = port or free_port()
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.mongo_standin", "--port", str(port), "--data-dir", str(data_dir)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_port("127.0.0.1", port, 20, proc, "the MongoDB stand-in")
    return proc, port


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ensure_rabbitmq(host: str = "127.0.0.1", port: int = 5672, install: bool = False) -> str:
    """Make sure RabbitMQ answers on host:port; start (and optionally install) it.

    Returns what was done, for the caller to print. Raises StartError with the
    reason when it cannot be had.
    """
    if port_open(host, port):
        return "RabbitMQ already running"
    if host not in ("127.0.0.1", "localhost"):
        raise StartError(f"RabbitMQ is not reachable on {host}:{port}, and it is not local")
    if not shutil.which("rabbitmq-server"):
        if not install:
            raise StartError(
                "RabbitMQ is not running and rabbitmq-server is not installed "
                "(apt-get install -y rabbitmq-server)"
            )
        if os.geteuid() != 0:
            raise StartError("RabbitMQ is missing; install it as root: apt-get install -y rabbitmq-server")
        subprocess.run(["apt-get", "update", "-q"], check=False, stdout=subprocess.DEVNULL)
        done = subprocess.run(
            ["apt-get", "install", "-y", "-q", "rabbitmq-server"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if done.returncode != 0:
            raise StartError(f"apt-get install rabbitmq-server failed: {done.stderr[-500:]}")
    subprocess.run(
        ["rabbitmq-server", "-detached"], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pinged = (
            subprocess.run(
                ["rabbitmqctl", "-q", "ping"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            ).returncode
            == 0
        )
        if pinged and port_open(host, port):
            return "RabbitMQ started"
        time.sleep(1)
    raise StartError("RabbitMQ did not start within 60 s (see /var/log/rabbitmq)")
