"""Mailer benchmark: N recipients through real worker processes, the real
broker, the real store (the stand-in unless VINCULO_BENCH_MONGO_URI is set)
and a real local SMTP server process.

    .venv/bin/python -m bench.mailer.run [--recipients 20000] [--workers 2] [--batch 100]

Prints messages/s (first send.requested published -> last message accepted
by the SMTP server), p50/p95/p99 from a batch's send.requested to each of its
messages being accepted, peak memory (VmHWM) of each process, and the
machine. Everything runs on loopback; bounded by --timeout.
"""

from __future__ import annotations

import argparse
import datetime
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bson import ObjectId
from kombu import Connection, Producer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench import commands  # noqa: E402
from bench.common import machine  # noqa: E402
from devstack import procs  # noqa: E402
from services.mailer import templates  # noqa: E402
from services.mailer.models import DOCUMENTS  # noqa: E402
from shared.documents import prepare_store  # noqa: E402
from shared.messaging.contracts import SendRequested, envelope_for  # noqa: E402
from shared.messaging.topology import Topology  # noqa: E402
from shared.models import ConsentState, Customer  # noqa: E402
from tests.support import broker_cleanup, queue_depth  # noqa: E402


def peak_rss_mib(pid: int) -> float:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cpu_seconds(pid: int) -> float:
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--finalize-every",
        type=int,
        default=None,
        help="VINCULO_MAILER_FINALIZE_EVERY for the workers (default: the setting's default)",
    )
    parser.add_argument(
        "--smtp-connections",
        type=int,
        default=None,
        help="VINCULO_MAILER_SMTP_CONNECTIONS for the workers (default: the setting's default)",
    )
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="vinculo-bench-mailer-"))
    started: list[subprocess.Popen] = []
    namespace = f"bench{uuid.uuid4().hex[:8]}."
    amqp_url = os.environ.get("VINCULO_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
    try:
        mongo_base = os.environ.get("VINCULO_BENCH_MONGO_URI")
        if not mongo_base:
            proc, port = procs.start_mongo_standin(data_dir="memory", log_path=work / "store.log")
            started.append(proc)
            mongo_base = f"mongodb://127.0.0.1:{port}"
        mongo_uri = f"{mongo_base.rstrip('/')}/bench_{uuid.uuid4().hex[:8]}"
        prepare_store(mongo_uri, *DOCUMENTS)

        smtp_port = procs.free_port()
        arrivals = work / "arrivals.txt"
        smtp = subprocess.Popen(
            [sys.executable, "-m", "devstack.smtp", "--port", str(smtp_port), "--arrivals", str(arrivals)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=open(work / "smtp.log", "wb"),
        )
        started.append(smtp)
        procs.wait_for_port("127.0.0.1", smtp_port, 20, smtp, "the SMTP server")

        print(f"seeding {args.recipients} customers with consent ...", flush=True)
        template, _ = templates.create(
            name="bench",
            channel="email",
            variants={
                "es": {
                    "subject": "¡Últimas ofertas para ti, {{ first_name }}!",
                    "from_name": "Sofía Núñez",
                    "text": "Hola {{ first_name }}, mira https://tienda.example/ofertas\nBaja: {{ unsubscribe_url }}",
                    "html": "<html><body><p>Hola {{ first_name }}, desde {{ 30|money }}.</p>"
                    '<a href="https://tienda.example/ofertas">Ver</a> <a href="{{ unsubscribe_url }}">Baja</a>'
                    "</body></html>",
                }
            },
        )
        now = datetime.datetime.utcnow()
        ids = [ObjectId() for _ in range(args.recipients)]
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            Customer._get_collection().insert_many(
                [
                    {
                        "_id": cid,
                        "email": f"c{start + n}@example.com",
                        "first_name": "Íñigo",
                        "locale": "es",
                        "time_zone": "Europe/Madrid",
                        "suppression": {},
                        "erased": False,
                    }
                    for n, cid in enumerate(chunk)
                ],
                ordered=False,
            )
            ConsentState._get_collection().insert_many(
                [
                    {
                        "customer_id": cid,
                        "channel": "email",
                        "topic": "newsletter",
                        "status": "granted",
                        "at": now,
                    }
                    for cid in chunk
                ],
                ordered=False,
            )

        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("VINCULO_")},
            "PYTHONPATH": str(ROOT),
            "VINCULO_MONGO_URI": mongo_uri,
            "VINCULO_AMQP_URL": amqp_url,
            "VINCULO_API_KEYS": "bench-admin-key:admin",
            "VINCULO_SECRET_KEY": secrets.token_urlsafe(32),
            "VINCULO_BROKER_NAMESPACE": namespace,
            "VINCULO_LOG_LEVEL": "WARNING",
            "VINCULO_MAILER_SMTP_PORT": str(smtp_port),
            "VINCULO_MAILER_QUIET_HOURS": "",
            "VINCULO_MAILER_RATE_EMAIL": "100000",
        }
        if args.smtp_connections:
            env["VINCULO_MAILER_SMTP_CONNECTIONS"] = str(args.smtp_connections)
        if args.finalize_every:
            env["VINCULO_MAILER_FINALIZE_EVERY"] = str(args.finalize_every)
        workers = []
        counts = [work / f"worker-{n}.commands.json" for n in range(args.workers)]
        for n in range(args.workers):
            # each worker counts its store commands (pymongo command monitoring): bench/commands.py
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        *os.environ.get("BENCH_PY_ARGS", "").replace("{n}", str(n)).split(),
                        "-m",
                        "bench.commands",
                        str(counts[n]),
                        "services.mailer",
                        "worker",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=open(work / f"worker-{n}.log", "wb"),
                    stderr=subprocess.STDOUT,
                )
            )
        started.extend(workers)
        topology = Topology(namespace)
        queue = topology.name("mailer.send.requested")
        deadline = time.monotonic() + 60
        while True:
            try:
                with Connection(amqp_url) as conn, conn.channel() as channel:
                    if channel.queue_declare(queue=queue, passive=True)[2] >= args.workers:
                        break
            except Exception:  # noqa: BLE001 - not declared yet
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the workers did not start consuming; see " + str(work))
            time.sleep(0.2)

        store_pid = started[0].pid if not os.environ.get("VINCULO_BENCH_MONGO_URI") else None
        time.sleep(1.0)  # the workers' command counts after start-up (indexes, first reads)
        commands_before = [commands.read(path) for path in counts]
        baseline = {w.pid: cpu_seconds(w.pid) for w in workers + [smtp]}
        if store_pid:
            baseline[store_pid] = cpu_seconds(store_pid)
        print(f"publishing {len(ids) // args.batch} send.requested batches of {args.batch} ...", flush=True)
        batch_of: dict[str, int] = {}
        published_at: list[float] = []
        with Connection(amqp_url, transport_options={"confirm_publish": True}) as conn:
            producer = Producer(conn.channel())
            for b, start in enumerate(range(0, len(ids), args.batch)):
                chunk = ids[start : start + args.batch]
                for n in range(len(chunk)):
                    batch_of[f"c{start + n}@example.com"] = b
                envelope = envelope_for(
                    SendRequested(
                        campaign_id="bench",
                        channel="email",
                        topic="newsletter",
                        template_id=str(template.id),
                        customer_ids=[str(c) for c in chunk],
                        batch=b,
                    ),
                    "campaigns",
                )
                published_at.append(time.time())
                producer.publish(
                    envelope.to_json().encode(),
                    exchange=topology.exchange("campaigns"),
                    routing_key="send.requested",
                    content_type="application/json",
                    message_id=envelope.message_id,
                    delivery_mode=2,
                )
        first = published_at[0]
        deadline = time.monotonic() + args.timeout
        count = 0
        while time.monotonic() < deadline:
            count = sum(1 for _ in open(arrivals)) if arrivals.exists() else 0
            if count >= len(ids):
                break
            if any(w.poll() is not None for w in workers):
                raise SystemExit("a worker exited; see " + str(work))
            time.sleep(0.5)
        cpu_end = {w.pid: cpu_seconds(w.pid) for w in workers}
        time.sleep(1.0)  # one more write of the counts, after the last message
        commands_after = [commands.read(path) for path in counts]
        latencies, last = [], first
        for line in open(arrivals):
            at, rcpt = line.split(maxsplit=1)
            at = float(at)
            last = max(last, at)
            latencies.append(at - published_at[batch_of[rcpt.strip()]])
        elapsed = last - first
        from services.mailer.models import Delivery

        sent = Delivery.objects(status="sent").count()
        print()
        print(f"machine: {machine()}")
        print(
            f"store: {'MongoDB stand-in (nx-27017)' if not os.environ.get('VINCULO_BENCH_MONGO_URI') else mongo_base}; "
            f"workers: {args.workers}; batch: {args.batch}; finalize_every: "
            f"{args.finalize_every or 'default'}; smtp_connections: {args.smtp_connections or 'default'}"
        )
        print(f"load average at the end (the machine is shared): {os.getloadavg()[0]:.1f}")
        print(f"messages accepted by SMTP: {len(latencies)} of {len(ids)} (deliveries recorded sent: {sent})")
        print(f"throughput: {len(latencies) / elapsed:.0f} messages/s over {elapsed:.1f} s")
        print(
            f"send.requested -> SMTP accepted: p50 {percentile(latencies, 50):.2f} s, "
            f"p95 {percentile(latencies, 95):.2f} s, p99 {percentile(latencies, 99):.2f} s"
        )
        print(
            "peak memory (VmHWM): "
            + ", ".join(
                [f"worker {n} {peak_rss_mib(w.pid):.0f} MiB" for n, w in enumerate(workers)]
                + [f"smtp server {peak_rss_mib(smtp.pid):.0f} MiB"]
                + (
                    [f"store {peak_rss_mib(started[0].pid):.0f} MiB"]
                    if not os.environ.get("VINCULO_BENCH_MONGO_URI")
                    else []
                )
            )
        )
        # CPU spent during the run only (seeding and start-up excluded)
        cpu = {f"worker {n}": cpu_end[w.pid] - baseline[w.pid] for n, w in enumerate(workers)}
        cpu["smtp server"] = cpu_seconds(smtp.pid) - baseline[smtp.pid]
        if store_pid:
            cpu["store"] = cpu_seconds(store_pid) - baseline[store_pid]
        total = sum(cpu.values())
        workers_cpu = sum(v for k, v in cpu.items() if k.startswith("worker"))
        print(f"worker CPU per message (all workers): {workers_cpu / len(latencies) * 1000:.2f} ms")
        per_kind: dict[str, int] = {}
        for before, after in zip(commands_before, commands_after):
            for name, n in commands.work(before, after).items():
                per_kind[name] = per_kind.get(name, 0) + n
        print(
            f"store commands per message (workers, pymongo command monitoring): "
            f"{sum(per_kind.values()) / len(latencies):.3f} ("
            + ", ".join(f"{name} {n / len(latencies):.3f}" for name, n in sorted(per_kind.items()))
            + ")"
        )
        print(
            "CPU time per message: "
            + ", ".join(f"{k} {v / len(latencies) * 1000:.2f} ms" for k, v in cpu.items())
            + f" (RabbitMQ not counted); total {total / len(latencies) * 1000:.2f} ms "
            f"-> about {len(latencies) / total * (os.cpu_count() or 1):.0f} messages/s if these processes had "
            f"all {os.cpu_count()} cores to themselves"
        )
        try:
            print(f"left in queue: {queue_depth(amqp_url, queue)}")
        except Exception:  # noqa: BLE001
            pass
        return 0 if len(latencies) >= len(ids) else 1
    finally:
        for proc in reversed(started):
            procs.stop(proc)
        broker_cleanup(amqp_url, namespace)


if __name__ == "__main__":
    raise SystemExit(main())
