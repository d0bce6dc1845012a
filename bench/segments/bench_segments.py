"""Benchmark of the segments service on this machine, against the store the
tests use (the MongoDB stand-in, in memory) and the local RabbitMQ:

1. import N generated profiles (CSV) through the API and the worker process:
   rows/s and the worker's peak memory (VmHWM);
2. count and list (first page of 50) 10 representative rules: ms each;
3. event-to-segment.entered latency under a stream of 1,000 profile updates
   made through the API: p50, p95.

Run: ``.venv/bin/python -m bench.segments.bench_segments [--rows 100000] [--updates 1000]``
Loopback only; bounded in count and time. Prints the machine and the figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kombu import Connection, Queue

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402
from devstack import procs  # noqa: E402
from tests.support import API_KEYS, SECRET, broker_cleanup  # noqa: E402

FIRST = [
    "Lucía",
    "Íñigo",
    "Sofía",
    "José",
    "María",
    "Ángel",
    "Begoña",
    "Nuria",
    "Emma",
    "John",
    "Olivia",
    "Noah",
]
LAST = ["García", "Núñez", "López", "Martínez", "Peña", "Ibáñez", "Smith", "Brown", "Jones", "Muñoz"]
PLACES = [
    ("ES", "Madrid", 40.4168, -3.7038),
    ("ES", "Málaga", 36.7213, -4.4214),
    ("ES", "Bilbao", 43.263, -2.935),
    ("MX", "Ciudad de México", 19.4326, -99.1332),
    ("GB", "London", 51.5072, -0.1276),
    ("US", "New York", 40.7128, -74.006),
    ("AR", "Córdoba", -31.4201, -64.1888),
]
STAGES = ["lead", "prospect", "customer", "churned"]


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as out:
        out.write(
            "external_id,email,phone,first_name,last_name,country,city,lat,lng,stage,tags,attributes.tier\n"
        )
        for i in range(rows):
            country, city, lat, lng = rng.choice(PLACES)
            phone = f"+346{rng.randrange(10**7, 10**8)}" if country == "ES" and i % 3 else ""
            tags = ";".join(rng.sample(["vip", "newsletter", "promo", "b2b"], rng.randrange(0, 3)))
            out.write(
                f"b-{i},user{i}@example.com,{phone},{rng.choice(FIRST)},{rng.choice(LAST)},{country},{city},"
                f"{lat + rng.uniform(-0.2, 0.2):.5f},{lng + rng.uniform(-0.2, 0.2):.5f},{rng.choice(STAGES)},"
                f"{tags},{rng.choice(['silver', 'bronze'])}\n"
            )


def peak_rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return 0.0


RULES = {
    "country eq ES": {"field": "country", "op": "eq", "value": "ES"},
    "city eq malaga (folded)": {"field": "city", "op": "eq", "value": "malaga"},
    "name starts_with nu (folded)": {"field": "last_name", "op": "starts_with", "value": "nú"},
    "tags in vip,promo": {"field": "tags", "op": "in", "value": ["vip", "promo"]},
    "stage customer AND ES": {
        "all": [
            {"field": "stage", "op": "eq", "value": "customer"},
            {"field": "country", "op": "eq", "value": "ES"},
        ]
    },
    "created within 30 days": {"field": "created_at", "op": "within_last", "value": {"days": 30}},
    "near Madrid 50 km": {"near": {"lat": 40.4168, "lng": -3.7038, "km": 50}},
    "attributes.tier eq silver": {"field": "attributes.tier", "op": "eq", "value": "silver"},
    "not (MX or US)": {
        "not": {
            "any": [
                {"field": "country", "op": "eq", "value": "MX"},
                {"field": "country", "op": "eq", "value": "US"},
            ]
        }
    },
    "purchases 2+ in 90 days": {"purchases": {"days": 90, "count": {"gte": 2}}},
}


def start_worker(uri: str, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "services.segments", "worker"],
        cwd=ROOT,
        env={**env, "VINCULO_MONGO_URI": uri},
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )


def app_client(uri: str):
    os.environ["VINCULO_MONGO_URI"] = uri
    from services.segments.app import create_app
    from services.segments.settings import load

    return create_app(load()).test_client()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument(
        "--latency-customers",
        type=int,
        default=2000,
        help="size of the customers collection for the latency run",
    )
    parser.add_argument(
        "--large-sample", type=int, default=20, help="updates timed against the imported collection too"
    )
    parser.add_argument(
        "--no-import-events",
        action="store_true",
        help="import without publishing customer.created/updated (VINCULO_SEGMENTS_IMPORT_EVENTS=false)",
    )
    parser.add_argument("--rule-runs", type=int, default=3, help="runs per rule (the median is printed)")
    parser.add_argument(
        "--phases",
        default="latency,import",
        help="which parts to run: latency (small collection), import (import, rules, sample)",
    )
    parser.add_argument(
        "--amqp", default=os.environ.get("VINCULO_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
    )
    args = parser.parse_args(argv)
    print(f"machine: {machine()}; load average now {os.getloadavg()[0]:.1f}")
    print(
        "store: the MongoDB stand-in (nx-27017 on SQLite, in memory) -- figures of the stand-in, not of MongoDB"
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-segments-"))
    store_proc, port = procs.start_mongo_standin(data_dir="memory", log_path=tmp / "store.log")
    namespace = f"bench{uuid.uuid4().hex[:8]}."
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VINCULO_")},
        "VINCULO_AMQP_URL": args.amqp,
        "VINCULO_API_KEYS": API_KEYS,
        "VINCULO_SECRET_KEY": SECRET,
        "VINCULO_BROKER_NAMESPACE": namespace,
        "VINCULO_LOG_LEVEL": "WARNING",
        "VINCULO_SEGMENTS_JOB_POLL_SECONDS": "0.2",
        "PYTHONPATH": str(ROOT),
    }
    if args.no_import_events:
        env["VINCULO_SEGMENTS_IMPORT_EVENTS"] = "false"
    os.environ.update(env)
    headers = {"X-API-Key": "test-admin-key"}
    workers = []
    try:
        # 1. Latency on a collection of --latency-customers people.
        if "latency" in args.phases:
            small = f"mongodb://127.0.0.1:{port}/bench_latency"
            workers.append(start_worker(small, env, tmp / "worker-latency.log"))
            client = app_client(small)
            seed(args.latency_customers)
            bench_latency(client, headers, args.amqp, namespace, args.updates, "small")
            procs.stop(workers.pop())
        if "import" not in args.phases:
            return
        # 2. Import, rules and a latency sample on the imported collection.
        large = f"mongodb://127.0.0.1:{port}/bench"
        worker = start_worker(large, env, tmp / "worker.log")
        workers.append(worker)
        client = app_client(large)
        bench_import(client, headers, tmp, args.rows, worker)
        if args.rule_runs:
            bench_rules(client, headers, args.rule_runs)
        if args.large_sample:
            bench_latency(client, headers, args.amqp, namespace, args.large_sample, "large")
    finally:
        for worker in workers:
            procs.stop(worker)
        procs.stop(store_proc)
        broker_cleanup(args.amqp, namespace)


def seed(count: int) -> None:
    from services.segments import profiles
    from shared.models import Customer

    docs = [
        profiles.new_document({"email": f"lat{i}@example.com", "first_name": "Ana", "country": "ES"})
        for i in range(count)
    ]
    for start in range(0, len(docs), 1000):
        Customer._get_collection().insert_many(docs[start : start + 1000])


def bench_import(client, headers, tmp: Path, rows: int, worker) -> None:
    from services.segments.models import ImportJob

    # A segment exists, so the import also keeps membership fresh batch by batch.
    client.post(
        "/segments", json={"name": "Clientes en España", "rule": RULES["country eq ES"]}, headers=headers
    )
    path = tmp / "customers.csv"
    write_csv(path, rows)
    with open(path, "rb") as data:
        response = client.post(
            "/imports", query_string={"format": "csv"}, data=data, headers=headers, content_type="text/csv"
        )
    job_id = response.json["id"]
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        job = ImportJob.objects(id=job_id).first()
        if job.status in ("done", "failed"):
            break
        time.sleep(0.5)
    seconds = (job.finished_at - job.started_at).total_seconds()
    print(
        f"import: {job.rows} rows ({path.stat().st_size / 1e6:.1f} MB CSV) in {seconds:.1f} s = "
        f"{job.rows / seconds:,.0f} rows/s; created {job.created}, rejected {job.rejected}; "
        f"worker peak memory {peak_rss_mb(worker.pid):.0f} MB (VmHWM, whole worker process)"
    )


def bench_rules(client, headers, runs: int) -> None:
    from bson import json_util

    from services.segments.rules import compile_rule
    from shared.audience import EXCLUDED, resolve
    from shared.models import Customer

    collection = Customer._get_collection()
    print(f"rules (count / first page of 50; median of {runs} run(s)):")
    for name, rule in RULES.items():
        query = {"$and": [resolve(json_util.loads(json_util.dumps(compile_rule(rule).filter))), EXCLUDED]}
        counts, lists = [], []
        for _ in range(runs):
            started = time.perf_counter()
            count = collection.count_documents(query)
            counts.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            list(collection.find(query, {"_id": 1, "email": 1}).sort("_id", 1).limit(50))
            lists.append((time.perf_counter() - started) * 1000)
        print(
            f"  {name:<32} {count:>7} match  count {statistics.median(counts):8.1f} ms   "
            f"list {statistics.median(lists):8.1f} ms"
        )


def consume_entered(amqp: str, queue_name: str, segment_id: str, expected: int, ready, results) -> None:
    """Record when each customer's segment.entered arrives (wall clock, compared with the
    sender's in another process on the same machine); hand the times back when all came."""
    received: dict[str, float] = {}
    deadline = time.monotonic() + 900

    def on_message(body, message):
        payload = json.loads(body)["payload"] if isinstance(body, (str, bytes)) else body["payload"]
        if payload["segment_id"] == segment_id:
            received[payload["customer_id"]] = time.time()
        message.ack()

    with Connection(amqp) as conn:
        with conn.Consumer(Queue(queue_name, no_declare=True), callbacks=[on_message], accept=["json"]):
            ready.set()
            while len(received) < expected and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=1)
                except Exception:  # noqa: BLE001 - socket timeout: keep waiting until the deadline
                    pass
    results.put(received)


def bench_latency(client, headers, amqp: str, namespace: str, updates: int, label: str) -> None:
    from services.segments.models import RecomputeJob
    from shared.messaging.topology import Topology
    from shared.models import Customer

    segment = client.post(
        "/segments",
        json={"name": "Oro", "rule": {"field": "attributes.tier", "op": "eq", "value": "gold"}},
        headers=headers,
    ).json
    # Wait for the segment's first (silent) filling and for earlier work (an import's
    # events and recomputes) to drain, so the figures are the updates' own.
    from tests.support import queue_depth

    deadline = time.monotonic() + 1800
    membership = Topology(namespace).name("segments.membership")
    while time.monotonic() < deadline and (
        RecomputeJob.objects(status__in=["queued", "running"]).count()
        or RecomputeJob.objects(segment_id=segment["id"], status="done").count() == 0
        or queue_depth(amqp, membership)
    ):
        time.sleep(0.5)
    topology = Topology(namespace)
    queue_name = topology.name(f"bench.entered.{label}")
    with Connection(amqp) as conn, conn.channel() as channel:
        Queue(
            queue_name,
            exchange=topology.exchange("segments"),
            routing_key="segment.entered",
            queue_arguments={"x-expires": 120000},
        )(channel).declare()
    ids = [
        str(d["_id"]) for d in Customer._get_collection().find({}, {"_id": 1}).sort("_id", 1).limit(updates)
    ]
    sent: dict[str, float] = {}
    # The consumer is a process of its own: as a thread of this process (which runs the
    # API calls) it waited for the GIL, and that wait was counted as latency.
    spawn = multiprocessing.get_context("spawn")
    ready, results = spawn.Event(), spawn.Queue()
    consumer = spawn.Process(
        target=consume_entered, args=(amqp, queue_name, segment["id"], len(ids), ready, results)
    )
    consumer.start()
    ready.wait(30)
    started = time.time()
    for cid in ids:
        sent[cid] = time.time()
        client.patch(f"/customers/{cid}", json={"attributes": {"tier": "gold"}}, headers=headers)
    sending = time.time() - started
    try:
        received = results.get(timeout=900)
    except Exception:  # noqa: BLE001 - queue.Empty: report what is known
        received = {}
    consumer.join(5)
    if consumer.is_alive():
        consumer.terminate()
    elapsed = max(received.values(), default=time.time()) - started
    latencies = sorted((received[c] - sent[c]) * 1000 for c in ids if c in received)
    if not latencies:
        print("latency: no segment.entered received")
        return
    p50 = latencies[len(latencies) // 2]
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    total = Customer._get_collection().estimated_document_count()
    print(
        f"event-to-segment.entered ({total:,} customers in the collection): "
        f"{len(latencies)}/{len(ids)} updates sent in {sending:.1f} s ({len(ids) / sending:.0f}/s through the API), "
        f"last entered after {elapsed:.1f} s; p50 {p50:.0f} ms, p95 {p95:.0f} ms, "
        f"max {latencies[-1]:.0f} ms"
    )


if __name__ == "__main__":
    main()
