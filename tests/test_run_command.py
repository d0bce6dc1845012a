"""The README's run command brings everything up with demo data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devstack import procs
from devstack.supervise import KeepsDying, Supervisor
from tests.support import ROOT, broker_cleanup, wait_until


def test_run_command_starts_every_service_seeds_demo_data_and_stops(tmp_path, amqp_url):
    base = _free_base()
    env = {
        "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
        "PYTHONPATH": str(ROOT),
        "VINCULO_RUN_DIR": str(tmp_path),
        "VINCULO_RUN_PORT_BASE": str(base),
        "VINCULO_STANDIN_PORT": str(procs.free_port()),
        "VINCULO_AMQP_URL": amqp_url,
        "VINCULO_BROKER_NAMESPACE": f"run{base}.",
    }
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
        done = subprocess.run(
            [sys.executable, "-m", "devstack.run", "--check"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        for service in ("segments", "campaigns", "mailer", "listener"):
            assert f"{service}" in done.stdout
        ready = done.stdout[done.stdout.index("vinculo: ready:") :].splitlines()
        assert ready[1].split()[1:3] == ["console", f"http://127.0.0.1:{env['VINCULO_RUN_PORT_BASE']}"], ready
    assert "demo data: 0 customers added" in done.stdout
    assert (tmp_path / "store").is_dir()


def test_a_part_that_dies_is_restarted_counted_and_sigterm_still_stops_everything(tmp_path, amqp_url):
    """kill -9 of the mailer worker: restarted with its restart logged and counted, the other
    parts untouched; the broker namespace follows the port base; SIGTERM stops every part."""
    base = _free_base()
    env = {
        "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
        "PYTHONPATH": str(ROOT),
        "VINCULO_RUN_DIR": str(tmp_path),
        "VINCULO_RUN_PORT_BASE": str(base),
        "VINCULO_STANDIN_PORT": str(procs.free_port()),
        "VINCULO_AMQP_URL": amqp_url,
        "VINCULO_RUN_RESTART_DELAY": "0.2",
    }
    out_path = tmp_path / "run.out"
    with open(out_path, "wb") as out:
        run = subprocess.Popen(
            [sys.executable, "-m", "devstack.run", "--no-demo"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    output = out_path.read_text
    try:
        wait_until(
            lambda: "vinculo: ready:" in output() or run.poll() is not None,
            timeout=240,
            interval=0.2,
            what="the run to be ready",
        )
        assert run.poll() is None, output()
        assert f"(names prefixed 'run{base}.')" in output()
        before = _children(run.pid)
        worker = before[("services.mailer", "worker")]
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: "mailer-worker restarted" in output(), timeout=60, what="the restart")
        assert "mailer-worker exited with code -9; restarting it in 0.2 s" in output()
        assert "restart 1 of this part, 1 in this run" in output()
        # the new child is listed once it has exec'd (until then its cmdline is the run's own)
        after = wait_until(
            lambda: (lambda found: found if ("services.mailer", "worker") in found else None)(
                _children(run.pid)
            ),
            timeout=30,
            what="the restarted worker to be running",
        )
        assert after[("services.mailer", "worker")] != worker
        assert {k: v for k, v in after.items() if k != ("services.mailer", "worker")} == {
            k: v for k, v in before.items() if k != ("services.mailer", "worker")
        }, "only the dead part restarts"
        assert run.poll() is None
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=120) == 0, output()
        alive = [
            pid
            for pid in after.values()
            if Path(f"/proc/{pid}").exists()
            and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
        ]
        assert not alive, f"still running after SIGTERM: {alive}"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        broker_cleanup(amqp_url, f"run{base}.")


def _children(pid: int) -> dict:
    """The run's part processes: {("services.<name>", part): pid}."""
    found = {}
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if "-m" in argv and argv[argv.index("-m") + 1].startswith("services."):
            i = argv.index("-m")
            found[(argv[i + 1], argv[i + 2])] = int(child)
    return found


@pytest.mark.slow  # starts processes (not a `unit` test), if short ones
def test_a_part_that_keeps_dying_stops_the_run_with_the_end_of_its_log(tmp_path):
    said = []
    supervisor = Supervisor(said.append, delay=0.05, max_restarts=2, window=60)
    crash = "import sys; print('línea', 1); print('configuration error: ñandú'); sys.exit(3)"
    supervisor.add(
        "mailer-worker",
        [sys.executable, "-c", crash],
        {"PATH": "/usr/bin:/bin"},
        tmp_path / "mailer-worker.log",
        ROOT,
    )
    supervisor.add(
        "sleeper",
        [sys.executable, "-c", "import time; time.sleep(120)"],
        {"PATH": "/usr/bin:/bin"},
        tmp_path / "sleeper.log",
        ROOT,
    )
    deadline = time.monotonic() + 60
    try:
        with pytest.raises(KeepsDying) as dying:
            while time.monotonic() < deadline:
                supervisor.tick()
                time.sleep(0.02)
    finally:
        supervisor.stop_all(procs.stop)
    message = str(dying.value)
    assert message.startswith("mailer-worker exited 3 times within 60 s (last exit code 3)"), message
    assert message.endswith("configuration error: ñandú"), message
    assert supervisor.restarts == 2 and [s for s in said if "restarted" in s][-1].endswith(
        "restart 2 of this part, 2 in this run)"
    )
    assert "restarting it in 0.05 s" in said[0] and "restarting it in 0.1 s" in said[2], said  # back-off
    assert all(part.proc.poll() is not None for part in supervisor.parts), "stop_all stopped the sleeper"
