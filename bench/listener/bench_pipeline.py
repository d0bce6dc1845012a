"""Mentions through the whole listener pipeline from a local X server.

    .venv/bin/python -m bench.listener.bench_pipeline [--posts 20000] [--customers 2000]

A local HTTP server speaks X API v2 recent search (pages of 100, the real
response shape); tweepy's real client fetches every page; the pipeline
detects the language, scores sentiment, links authors to customers by
handle, stores each mention once and publishes mention.received to the real
RabbitMQ (a bench namespace, a bound queue, removed afterwards). As the
poller does, the pipeline works on each page as it arrives. Prints the rate
of the fetch alone (a first pass whose posts are dropped) and of the whole
(fetch and pipeline together), the CPU time of this process per mention during the
whole (it varies far less than the rate on a loaded machine), and the peak memory of
the process.
The store is the stand-in (VINCULO_MONGO_URI to use a real MongoDB):
figures of the stand-in are figures of the stand-in.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bench.common import machine  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=20000)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args(argv)

    from kombu import Connection, Queue, binding

    from devstack import procs
    from services.listener.announce import BatchPublisher
    from services.listener.models import DOCUMENTS, ListeningQuery, Mention
    from services.listener.pipeline import Pipeline
    from services.listener.sources.base import Fetch
    from services.listener.sources.x import XSource
    from shared.documents import prepare_store
    from shared.messaging.topology import Topology
    from shared.models import Customer
    from tests.listener.fakes import start
    from tests.support import broker_cleanup

    rows = [
        json.loads(line)
        for line in (ROOT / "services/listener/sentiment/eval_set.jsonl").read_text().splitlines()
    ]
    proc = None
    uri = os.environ.get("VINCULO_MONGO_URI")
    if not uri:
        proc, port = procs.start_mongo_standin(
            data_dir="memory", log_path=Path("/tmp/vinculo-bench-store.log")
        )
        uri = f"mongodb://127.0.0.1:{port}/bench_listener"
        store_name = "MongoDB stand-in (nx-27017, in memory)"
    else:
        store_name = "MongoDB at VINCULO_MONGO_URI"
    amqp = os.environ.get("VINCULO_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
    topology = Topology(f"bench{uuid.uuid4().hex[:8]}.")
    queue = Queue(
        topology.name("bench.mentions"),
        bindings=[binding(topology.exchange("listener"), routing_key="mention.received")],
    )
    server, base, state = start()
    try:
        prepare_store(uri, *DOCUMENTS)
        Customer._get_collection().insert_many(
            [
                {
                    "email": f"c{i}@example.com",
                    "social": {"x": f"user{i}"},
                    "social_keys": [f"x:user{i}"],
                    "erased": False,
                }
                for i in range(args.customers)
            ]
        )
        with Connection(amqp) as conn, conn.channel() as channel:
            topology.exchange("listener")(channel).declare()
            queue(channel).declare()
        state.x_page_size = 100
        for i in range(args.posts):
            row = rows[i % len(rows)]
            state.add_tweet(f"{row['text']} #{i}", author=f"user{i % (args.customers * 5)}", lang=row["lang"])
        query = ListeningQuery(name="bench", keywords=["bench"], sources=["x"]).save()
        source = XSource("bench-token", base, first_pages=10**6)
        publisher = BatchPublisher(amqp, topology)
        pipeline = Pipeline(publisher, batch_size=args.batch)
        # The fake server wants this bearer token.
        source.client.bearer_token = "test-bearer"
        source.client.session.headers["Authorization"] = "Bearer test-bearer"

        t0 = time.perf_counter()
        fetched = len(source.fetch(query, {}).posts)  # the fetch alone
        t1 = time.perf_counter()
        fetch = Fetch(source.pages(query, {}))  # again, with the pipeline working on each page
        cpu1 = time.process_time()
        ingested = pipeline.ingest(query, fetch)
        t2 = time.perf_counter()
        cpu2 = time.process_time()
        publisher.close()
        assert fetch.error is None and fetch.count == fetched

        stored = Mention.objects.count()
        linked = Mention.objects(customer_id__ne=None).count()
        with Connection(amqp) as conn, conn.channel() as channel:
            _, published, _ = channel.queue_declare(queue=queue.name, passive=True)
        fetch_s, pipe_s = t1 - t0, t2 - t1
        print(f"machine: {machine()}")
        print(f"store: {store_name}; broker: RabbitMQ at {amqp.split('@')[-1]}")
        print(
            f"posts served: {args.posts} (pages of 100 over HTTP, tweepy {__import__('tweepy').__version__}); "
            f"customers: {args.customers}; batch: {args.batch}"
        )
        print(f"fetch alone: {fetched} in {fetch_s:.2f} s ({fetched / fetch_s:,.0f}/s)")
        print(
            f"whole (fetch, detect, score, link, store, publish): {len(ingested.new)} new in "
            f"{pipe_s:.2f} s (**{len(ingested.new) / pipe_s:,.0f} mentions/s**)"
        )
        print(
            f"CPU time of this process (every thread: fetch, pipeline, the local X server) during the whole: "
            f"{(cpu2 - cpu1) / len(ingested.new) * 1e6:,.0f} µs per mention (the store and the broker are "
            f"other processes)"
        )
        print(
            f"stored: {stored}; linked to customers: {linked}; mention.received in the bound queue: {published}"
        )
        print(
            f"peak memory: process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB "
            f"(the fetch-alone pass holds all {args.posts} posts at once; the whole holds a few batches)"
        )
        print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        assert stored == args.posts == published, "every post stored and announced once"
    finally:
        server.shutdown()
        with Connection(amqp) as conn, conn.channel() as channel:
            try:
                queue(channel).delete()
            except Exception:  # noqa: BLE001 - not declared (the run failed before)
                pass
        # The publisher declared every service's exchange in the bench namespace.
        broker_cleanup(amqp, topology.namespace)
        if proc is not None:
            procs.stop(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
