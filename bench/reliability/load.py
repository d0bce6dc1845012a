"""Sustained load on the profile and preference endpoints (issue 8, scenario 6).

Each thread loops over one customer's life: create the profile (segments
``POST /customers``), read it, update it (``PATCH``), change an email consent
(mailer ``POST /customers/{id}/consents``) and read the consents back. Bounded
in count and time, loopback only. Prints p50/p95/p99 latency per endpoint and
overall, the error rate and the machine; ``verify`` reads every write back.

By hand (starts its own store stand-in, the services, and uses the machine's
RabbitMQ under a throw-away namespace):

    .venv/bin/python -m bench.reliability.load --threads 16 --seconds 60 --requests 50000

The test (tests/reliability/test_load.py) calls ``run_load`` with small bounds.

PREFERENCE CENTER HOOK: the customer-facing preference pages are being built
in parallel. When they land, add their calls in ``preference_step`` (GET the
page and POST the form with a signed ``preferences`` token) and count them
under their own endpoint name; today the step goes through the consents API.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import requests

ADMIN_HEADERS = {"X-API-Key": "test-admin-key"}
STATUSES = ("granted", "revoked")


@dataclass
class Figures:
    latencies: dict = field(default_factory=lambda: defaultdict(list))  # endpoint -> seconds
    errors: list = field(default_factory=list)  # (endpoint, status or exception)
    written: dict = field(default_factory=dict)  # customer id -> (first_name, consent status)
    requests: int = 0
    elapsed: float = 0.0

    def error_rate(self) -> float:
        return len(self.errors) / self.requests if self.requests else 0.0

    def report(self) -> str:
        def pct(values, q):
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

        lines = [f"{'endpoint':<28} {'n':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"]
        everything = [v for values in self.latencies.values() for v in values]
        for name, values in sorted(self.latencies.items()) + [("all", everything)]:
            if values:
                lines.append(
                    f"{name:<28} {len(values):>7} {pct(values, 0.5):>8.1f} {pct(values, 0.95):>8.1f} "
                    f"{pct(values, 0.99):>8.1f}"
                )
        rate = self.requests / self.elapsed if self.elapsed else 0
        lines.append(
            f"requests {self.requests} in {self.elapsed:.1f} s ({rate:.0f}/s), "
            f"errors {len(self.errors)} (rate {self.error_rate():.4%}), "
            f"customers written {len(self.written)}"
        )
        if self.errors:
            lines.append(f"first errors: {self.errors[:5]}")
        return "\n".join(lines)


class _Budget:
    def __init__(self, max_requests: int, seconds: float):
        self.left, self.deadline, self.lock = max_requests, time.monotonic() + seconds, threading.Lock()

    def take(self, n: int) -> bool:
        with self.lock:
            if self.left < n or time.monotonic() >= self.deadline:
                return False
            self.left -= n
            return True


def preference_step(session, mailer: str, customer_id: str, status: str, timed) -> None:
    """A customer's preference change. HOOK: the preference center pages go here once they exist."""
    timed(
        "mailer POST consents",
        session.post,
        f"{mailer}/customers/{customer_id}/consents",
        json={"channel": "email", "topic": "newsletter", "status": status, "source": "api"},
    )
    timed("mailer GET consents", session.get, f"{mailer}/customers/{customer_id}/consents")


def run_load(
    segments: str, mailer: str, *, threads: int = 16, seconds: float = 20, max_requests: int = 5000
) -> Figures:
    figures, lock, budget = Figures(), threading.Lock(), _Budget(max_requests, seconds)
    tag = uuid.uuid4().hex[:8]
    steps = 5  # requests per loop below

    def worker(n: int) -> None:
        session = requests.Session()
        session.headers.update(ADMIN_HEADERS)

        def timed(name, method, url, **kwargs):
            started = time.perf_counter()
            try:
                response = method(url, timeout=60, **kwargs)
                outcome = response.status_code
            except requests.RequestException as exc:
                response, outcome = None, type(exc).__name__
            spent = time.perf_counter() - started
            with lock:
                figures.requests += 1
                figures.latencies[name].append(spent)
                if response is None or not 200 <= response.status_code < 300:
                    figures.errors.append((name, outcome))
            return response if response is not None and response.ok else None

        i = 0
        while budget.take(steps):
            i += 1
            created = timed(
                "segments POST customers",
                session.post,
                f"{segments}/customers",
                json={"email": f"load{n}-{i}-{tag}@example.com", "first_name": "Ana"},
            )
            if created is None:
                continue
            cid = created.json()["id"]
            timed("segments GET customer", session.get, f"{segments}/customers/{cid}")
            name, status = f"Ana {n}-{i}", STATUSES[i % 2]
            if (
                timed(
                    "segments PATCH customer",
                    session.patch,
                    f"{segments}/customers/{cid}",
                    json={"first_name": name},
                )
                is None
            ):
                name = "Ana"
            preference_step(session, mailer, cid, status, timed)
            with lock:
                figures.written[cid] = (name, status)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    figures.elapsed = time.perf_counter() - started
    return figures


def verify(segments: str, mailer: str, figures: Figures) -> list:
    """Every write reads back: the profile's last name and the last consent; the mismatches."""
    wrong = []
    with requests.Session() as session:
        session.headers.update(ADMIN_HEADERS)
        for cid, (name, status) in figures.written.items():
            profile = session.get(f"{segments}/customers/{cid}", timeout=60).json()
            consents = session.get(f"{mailer}/customers/{cid}/consents", timeout=60).json()["items"]
            got = {(c["channel"], c["topic"]): c["status"] for c in consents}
            if profile.get("first_name") != name or got.get(("email", "newsletter")) != status:
                wrong.append((cid, name, status, profile.get("first_name"), got))
    return wrong


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        platform.processor(),
    )
    mem = next(
        (int(line.split()[1]) // 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0
    )
    load = os.getloadavg()
    return f"nproc {os.cpu_count()}, {cpu}, {mem} MiB, load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--requests", type=int, default=50000)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument(
        "--amqp", default=os.environ.get("VINCULO_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
    )
    args = parser.parse_args()

    from devstack import procs
    from tests.support import ServiceEnv, broker_cleanup

    tmp = Path(tempfile.mkdtemp(prefix="vinculo-load-"))
    port = procs.free_port()
    standin, _ = procs.start_mongo_standin(port, data_dir=str(tmp / "data"), log_path=tmp / "standin.log")
    namespace = f"load{uuid.uuid4().hex[:8]}."
    env = ServiceEnv(
        mongo_uri=f"mongodb://127.0.0.1:{port}/load", amqp_url=args.amqp, namespace=namespace, tmp_path=tmp
    )
    try:
        segments = env.start_api("segments", VINCULO_SEGMENTS_WEB_WORKERS=args.web_workers)
        mailer = env.start_api("mailer", VINCULO_MAILER_WEB_WORKERS=args.web_workers)
        env.start("segments", "worker")
        print(f"machine: {machine()}")
        print(
            f"store: the stand-in (devstack/mongo_standin.py); {args.threads} threads, {args.web_workers} "
            f"web workers per api, bounds {args.seconds:.0f} s / {args.requests} requests"
        )
        figures = run_load(
            segments, mailer, threads=args.threads, seconds=args.seconds, max_requests=args.requests
        )
        print(figures.report())
        wrong = verify(segments, mailer, figures)
        print(f"read back: {len(figures.written) - len(wrong)}/{len(figures.written)} writes as written")
    finally:
        env.stop_all()
        procs.stop(standin)
        broker_cleanup(args.amqp, namespace)


if __name__ == "__main__":
    main()
