"""Campaigns benchmark: fan-out of one campaign to N customers, and scheduler
lateness over M scheduled campaigns, with the real worker and scheduler
processes, the real RabbitMQ on loopback and the store (a fresh stand-in
unless VINCULO_MONGO_URI is set).

    .venv/bin/python -m bench.campaigns.bench_campaigns [--customers 100000] [--campaigns 100]

Prints: time from due to the first and to the last send.requested published
(the envelopes' occurred_at, stamped just before publishing), the rate, the
worker's peak memory, and the lateness (due time -> campaign.due published)
percentiles; plus the machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bson import ObjectId, json_util
from kombu import Connection, Queue

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402
from devstack import procs  # noqa: E402
from shared import store  # noqa: E402
from shared.messaging.contracts import parse_envelope  # noqa: E402
from shared.messaging.topology import Topology  # noqa: E402
from shared.models import Segment, SegmentMember  # noqa: E402
from tests.support import ADMIN_KEY, API_KEYS, SECRET, broker_cleanup  # noqa: E402

AMQP = os.environ.get("VINCULO_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def peak_rss_mb(pid: int) -> float:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def utc(raw: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(raw).astimezone(datetime.UTC).replace(tzinfo=None)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--campaigns", type=int, default=100)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--read", type=int, default=50000, help="audience ids per store query")
    args = parser.parse_args()

    started = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-campaigns-"))
    base_uri = os.environ.get("VINCULO_MONGO_URI")
    if not base_uri:
        proc, port = procs.start_mongo_standin(data_dir="memory", log_path=tmp / "store.log")
        started.append(proc)
        base_uri = f"mongodb://127.0.0.1:{port}/bench"
        store_kind = "the MongoDB stand-in (nx-27017 on SQLite, in memory)"
    else:
        store_kind = f"MongoDB at {base_uri}"
    namespace = f"bench{uuid.uuid4().hex[:6]}."
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VINCULO_")},
        "VINCULO_MONGO_URI": base_uri,
        "VINCULO_AMQP_URL": AMQP,
        "VINCULO_API_KEYS": API_KEYS,
        "VINCULO_SECRET_KEY": SECRET,
        "VINCULO_BROKER_NAMESPACE": namespace,
        "PYTHONPATH": str(ROOT),
        "VINCULO_CAMPAIGNS_FANOUT_BATCH_SIZE": str(args.batch),
        "VINCULO_CAMPAIGNS_FANOUT_READ_SIZE": str(args.read),
        "VINCULO_CAMPAIGNS_SCHEDULER_POLL_SECONDS": "0.2",
        "VINCULO_LOG_LEVEL": "WARNING",
    }
    os.environ.update({k: v for k, v in env.items() if k.startswith("VINCULO_")})
    print(f"machine: {machine()}")
    print(f"store: {store_kind}; broker: RabbitMQ on loopback")
    try:
        from services.campaigns.app import create_app
        from services.campaigns.store import campaigns, runs

        app = create_app()
        client = app.test_client()
        headers = {"X-API-Key": ADMIN_KEY}
        db = store.db()
        t0 = time.perf_counter()
        for start in range(0, args.customers, 10_000):
            db.customers.insert_many(
                [
                    {"email": f"b{i}@example.com", "locale": "es", "erased": False}
                    for i in range(start, min(start + 10_000, args.customers))
                ],
                ordered=False,
            )
        print(f"seeded {args.customers} customers in {time.perf_counter() - t0:.1f} s")
        segment = Segment(name="bench", kind="dynamic", compiled=json_util.dumps({"locale": "es"})).save()
        template = ObjectId()
        db.templates.insert_one({"_id": template, "name": "bench", "channel": "email", "archived": False})

        queue_name = f"{namespace}bench.send"
        with Connection(AMQP) as conn:
            channel = conn.channel()
            Topology(namespace).declare(channel, ["campaigns.campaign.due"])
            Queue(
                queue_name, exchange=Topology(namespace).exchange("campaigns"), routing_key="send.requested"
            )(channel).declare()

        logs = [open(tmp / f"{part}.log", "wb") for part in ("worker", "scheduler")]
        worker = subprocess.Popen(
            [sys.executable, "-m", "services.campaigns", "worker"],
            cwd=ROOT,
            env=env,
            stdout=logs[0],
            stderr=subprocess.STDOUT,
        )
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "services.campaigns", "scheduler"],
            cwd=ROOT,
            env=env,
            stdout=logs[1],
            stderr=subprocess.STDOUT,
        )
        started += [worker, scheduler]
        # Measure from the due time, not from process start-up: wait until the scheduler holds its
        # lease and the worker consumes.
        from services.campaigns.store import leases
        from tests.support import consumers_on

        for _ in range(600):
            if leases().find_one({"_id": "campaigns"}) and consumers_on(
                AMQP, f"{namespace}campaigns.campaign.due"
            ):
                break
            time.sleep(0.1)

        # 1. Fan-out to every customer.
        body = {
            "name": "bench",
            "channel": "email",
            "topic": "promotions",
            "segment_id": str(segment.id),
            "template_id": str(template),
            "schedule": {"kind": "now"},
        }
        cid = client.post("/campaigns", json=body, headers=headers).get_json()["id"]
        client.post(f"/campaigns/{cid}/schedule", headers=headers)
        first = last = None
        recipients = messages = 0
        deadline = time.monotonic() + 900
        with Connection(AMQP) as conn:
            channel = conn.channel()
            while recipients < args.customers and time.monotonic() < deadline:
                message = channel.basic_get(queue_name, no_ack=True)
                if message is None:
                    time.sleep(0.01)
                    continue
                envelope = parse_envelope(message.body)
                at = utc(envelope.occurred_at)
                first = at if first is None or at < first else first
                last = at if last is None or at > last else last
                recipients += len(envelope.event().customer_ids)
                messages += 1
        run = runs().find_one({"campaign_id": ObjectId(cid)})
        due = run["due_at"]
        spread = (last - first).total_seconds()
        print(
            f"fan-out: {recipients} recipients in {messages} send.requested "
            f"(batch {args.batch}, read {args.read} per query)"
        )
        print(f"  due -> campaign.due published: {run.get('lateness', float('nan')):.2f} s")
        print(f"  due -> first send.requested: {(first - due).total_seconds():.2f} s")
        print(
            f"  due -> last send.requested:  {(last - due).total_seconds():.2f} s "
            f"({recipients / max((last - due).total_seconds(), 1e-9):,.0f} recipients/s overall, "
            f"{recipients / max(spread, 1e-9):,.0f}/s first to last)"
        )
        print(f"  worker peak RSS: {peak_rss_mb(worker.pid):.0f} MB")
        ok = recipients == args.customers
        # wait for the fan-out to end before the lateness part (no mailer runs here, so the
        # campaign itself stays "sending": it is sent once every delivery is terminal)
        for _ in range(600):
            current = campaigns().find_one({"_id": ObjectId(cid)})["current_run"]
            if db.campaign_runs.find_one({"_id": current}, {"state": 1})["state"] == "done":
                break
            time.sleep(0.1)

        # 2. Scheduler lateness over many campaigns due within a few seconds of each other.
        tiny = Segment(name="one", kind="static").save()
        SegmentMember(segment_id=tiny.id, customer_id=db.customers.find_one()["_id"]).save()
        begin = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=15)
        ids = []
        for i in range(args.campaigns):
            at = begin + datetime.timedelta(milliseconds=100 * i)
            body = {
                "name": f"late{i}",
                "channel": "email",
                "topic": "promotions",
                "segment_id": str(tiny.id),
                "template_id": str(template),
                "schedule": {"kind": "at", "at": at.isoformat()},
            }
            cid = client.post("/campaigns", json=body, headers=headers).get_json()["id"]
            assert client.post(f"/campaigns/{cid}/schedule", headers=headers).status_code == 200
            ids.append(ObjectId(cid))
        end = time.monotonic() + 120
        while time.monotonic() < end:
            fired = [
                r for r in runs().find({"campaign_id": {"$in": ids}}, {"lateness": 1}) if "lateness" in r
            ]
            if len(fired) == len(ids):
                break
            time.sleep(0.5)
        lateness = [
            r["lateness"]
            for r in runs().find({"campaign_id": {"$in": ids}}, {"lateness": 1})
            if "lateness" in r
        ]
        print(
            f"scheduler lateness over {len(lateness)}/{len(ids)} campaigns due 100 ms apart "
            f"(poll 0.2 s): p50 {pct(lateness, 50):.2f} s, p95 {pct(lateness, 95):.2f} s, "
            f"max {max(lateness):.2f} s, mean {statistics.mean(lateness):.2f} s"
        )
        app.extensions["vinculo"].close()
        return 0 if ok and len(lateness) == len(ids) else 1
    finally:
        for proc in reversed(started):
            procs.stop(proc)
        broker_cleanup(AMQP, namespace)
        try:
            with Connection(AMQP) as conn:
                conn.channel().queue_delete(f"{namespace}bench.send")
        except Exception:  # noqa: BLE001
            pass


if __name__ == "__main__":
    sys.exit(main())
