"""The README's run command brings everything up with demo data."""

from __future__ import annotations

import subprocess
import sys

from devstack import procs
from tests.support import ROOT, broker_cleanup


def test_run_command_starts_every_service_seeds_demo_data_and_stops(tmp_path, amqp_url):
    base = _free_base()
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "PYTHONPATH": str(ROOT),
           "VINCULO_RUN_DIR": str(tmp_path), "VINCULO_RUN_PORT_BASE": str(base),
           "VINCULO_STANDIN_PORT": str(procs.free_port()), "VINCULO_AMQP_URL": amqp_url,
           "VINCULO_BROKER_NAMESPACE": f"run{base}."}
    try:
        _run_twice(env, tmp_path)
    finally:
        broker_cleanup(amqp_url, env["VINCULO_BROKER_NAMESPACE"])


def _free_base() -> int:
    """A port base below the ephemeral range whose four service ports are all free."""
    import random
    import socket

    for _ in range(50):
        base = random.randrange(20000, 30000, 10)
        try:
            for offset in range(0, 5):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
    raise AssertionError("no free port base found")


def _run_twice(env, tmp_path):
    for _ in range(2):  # twice: the demo data is seeded once
        done = subprocess.run([sys.executable, "-m", "devstack.run", "--check"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        for service in ("segments", "campaigns", "mailer", "listener"):
            assert f"{service}" in done.stdout
        ready = done.stdout[done.stdout.index("vinculo: ready:"):].splitlines()
        assert ready[1].split()[1:3] == ["console", f"http://127.0.0.1:{env['VINCULO_RUN_PORT_BASE']}"], ready
    assert "demo data: 0 customers added" in done.stdout
    assert (tmp_path / "store").is_dir()
