"""Store stand-in benchmark: common store paths at 100,000 small customer-like documents.

Starts its own stand-in (``devstack.mongo_standin``) on a free port, loads the
documents, times each path and prints the figures, the server's peak memory
and the machine. Figures are of the stand-in (nx-27017 on SQLite), not of MongoDB.

    .venv/bin/python -m bench.store.bench_store [--docs 100000] [--data-dir memory|PATH]
"""

from __future__ import annotations

import argparse
import datetime
import random
import statistics
import tempfile
import time

from pymongo import DESCENDING, MongoClient, ReturnDocument

from bench.common import machine
from devstack import procs

PLANS = ("free", "pro", "enterprise")
T0 = datetime.datetime(2026, 1, 1)


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def customer(i: int) -> dict:
    return {
        "email": f"user{i}@example.com",
        "first_name": f"Name{i % 997}",
        "plan": PLANS[i % 3],
        "tags": ["vip"] if i % 10 == 0 else ["news"],
        "attributes": {"city": f"c{i % 50}", "seats": i % 20},
        "created_at": T0 + datetime.timedelta(seconds=i),
        "state": "ready" if i % 100 == 0 else "done",
        "score": i % 1000,
        "erased": False,
    }


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def timed_ms(fn, repeat: int = 5) -> str:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return f"median {statistics.median(samples):,.1f} ms (min {min(samples):,.1f})"


class Rows(list):
    """Figures, printed as they come (a slow path shows where it is)."""

    def append(self, row) -> None:
        super().append(row)
        print(f"  {row[0]:<62}  {row[1]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--data-dir", default="memory")
    args = parser.parse_args()
    folder = None
    data_dir = args.data_dir
    if data_dir == "tmp":
        folder = tempfile.TemporaryDirectory()
        data_dir = folder.name
    proc, port = procs.start_mongo_standin(data_dir=data_dir)
    rows = Rows()
    print(
        f"Store stand-in (nx-27017 + neosqlite, fixes of devstack/mongo_standin.py), data dir: {args.data_dir}"
    )
    print(f"machine: {machine()}", flush=True)
    try:
        client = MongoClient(f"mongodb://127.0.0.1:{port}")
        coll = client["bench"]["customers"]
        coll.create_index("email", unique=True)
        coll.create_index("plan")
        coll.create_index([("created_at", DESCENDING)])
        coll.create_index("state")
        n = args.docs
        start = time.perf_counter()
        for first in range(0, n, 1000):
            coll.insert_many([customer(i) for i in range(first, min(n, first + 1000))], ordered=False)
        rows.append((f"insert_many, batches of 1,000 ({n:,} docs)", rate(n, time.perf_counter() - start)))

        rnd = random.Random(7)
        probes = [rnd.randrange(n) for _ in range(1000)]
        start = time.perf_counter()
        for i in probes:
            assert coll.find_one({"email": f"user{i}@example.com"})["email"]
        rows.append(("find_one by unique indexed email", rate(len(probes), time.perf_counter() - start)))

        ids = [doc["_id"] for doc in coll.find({}, {"_id": 1}).limit(5000)]
        some = rnd.sample(ids, 1000)
        rows.append(
            ("find by _id $in of 1,000 ids", timed_ms(lambda: len(list(coll.find({"_id": {"$in": some}})))))
        )
        rows.append(
            (
                'count_documents({"plan": "pro"}) (indexed field)',
                timed_ms(lambda: coll.count_documents({"plan": "pro"})),
            )
        )
        rows.append(
            (
                'count_documents({"score": {"$gte": 500}}) (unindexed)',
                timed_ms(lambda: coll.count_documents({"score": {"$gte": 500}}), 3),
            )
        )
        rows.append(
            (
                'count_documents({"plan": {"$ne": "pro"}}) (exact-matching path)',
                timed_ms(lambda: coll.count_documents({"plan": {"$ne": "pro"}}), 3),
            )
        )
        rows.append(
            (
                "sort created_at desc, limit 20 (indexed datetime)",
                timed_ms(lambda: list(coll.find({}).sort("created_at", DESCENDING).limit(20))),
            )
        )
        since = T0 + datetime.timedelta(seconds=n - 100)
        rows.append(
            (
                "find created_at >= t (last 100 docs, indexed datetime range)",
                timed_ms(lambda: list(coll.find({"created_at": {"$gte": since}})), 3),
            )
        )

        start = time.perf_counter()
        for _id in ids[:1000]:
            coll.update_one({"_id": _id}, {"$inc": {"score": 1}, "$set": {"first_name": "x"}})
        rows.append(("update_one by _id ($inc + $set of a string)", rate(1000, time.perf_counter() - start)))
        start = time.perf_counter()
        for _id in ids[1000:1500]:
            coll.update_one({"_id": _id}, {"$set": {"seen_at": T0, "erased": True}})
        rows.append(
            ("update_one by _id ($set of a datetime and a bool)", rate(500, time.perf_counter() - start))
        )

        claims = 0
        start = time.perf_counter()
        while claims < 500 and coll.find_one_and_update(
            {"state": "ready"}, {"$set": {"state": "taken"}}, return_document=ReturnDocument.AFTER
        ):
            claims += 1
        rows.append(("find_one_and_update claim on indexed state", rate(claims, time.perf_counter() - start)))
        rows.append(("server peak memory (VmHWM)", f"{peak_rss_mb(proc.pid):,.0f} MB"))
        client.close()
    finally:
        procs.stop(proc)
        if folder:
            folder.cleanup()


if __name__ == "__main__":
    main()
