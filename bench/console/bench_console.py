"""Console benchmark: how long each page takes with 100,000 customers and
10,000 mentions in the store.

    .venv/bin/python -m bench.console.bench_console [--customers 100000] [--mentions 10000] [--rounds 5]

Starts a fresh store (the stand-in, unless VINCULO_MONGO_URI is set), every
service's api and the console as real processes on loopback, seeds the store
directly (customers and mentions in bulk; queries, campaigns and templates
through the APIs), signs in and times each page over HTTP as a browser would
fetch it (server time: the console plus the API calls it makes). Prints the
median, p95 and max per page and the machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from bson import ObjectId

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.campaigns.bench_campaigns import machine, pct  # noqa: E402
from devstack import inventory, procs  # noqa: E402
from shared import store  # noqa: E402
from tests.support import API_KEYS, CM_KEY, MARKETER_KEY, SECRET, broker_cleanup  # noqa: E402

AMQP = os.environ.get("VINCULO_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
BACKENDS = [s for s in ("segments", "campaigns", "mailer", "listener") if s in inventory.services()]
WORDS_NEG = ["awful", "terrible", "slow", "rude", "horrible", "malo", "pésimo", "fatal"]
WORDS_POS = ["great", "lovely", "excellent", "genial", "buenísimo", "perfect"]


def start(module: str, env: dict, log_dir: Path, started: list) -> None:
    log = open(log_dir / f"{module.replace('.', '-')}.log", "wb")
    started.append(
        subprocess.Popen(
            [sys.executable, "-m", module, "api"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    )


def wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def seed_customers(n: int) -> None:
    from shared.models import Customer

    collection = Customer._get_collection()
    first = ["Ana", "Lucía", "Carmen", "José", "Pedro", "Núñez", "John", "Mary", "Ines", "Pablo"]
    batch = []
    for i in range(n):
        batch.append(
            {
                "email": f"c{i}@example.com",
                "first_name": first[i % len(first)],
                "last_name": f"L{i}",
                "locale": "es" if i % 3 else "en",
                "country": "ES" if i % 3 else "GB",
                "erased": False,
                "tags": ["vip"] if i % 50 == 0 else [],
            }
        )
        if len(batch) == 5000:
            collection.insert_many(batch)
            batch = []
    if batch:
        collection.insert_many(batch)


def seed_mentions(n: int, query_id: str) -> None:
    from services.listener.models import DOCUMENTS, Mention

    store.ensure_indexes(*DOCUMENTS)
    collection = Mention._get_collection()
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    rng = random.Random(7)
    batch = []
    for i in range(n):
        label = rng.choice(["negative", "neutral", "positive", "neutral"])
        score = {"negative": -0.6, "neutral": 0.0, "positive": 0.6}[label]
        words = WORDS_NEG if label == "negative" else WORDS_POS if label == "positive" else ["ok"]
        posted = now - datetime.timedelta(minutes=rng.randrange(0, 30 * 24 * 60))
        batch.append(
            {
                "source": rng.choice(["x", "mastodon", "rss"]),
                "post_id": f"bench{i}",
                "query_id": ObjectId(query_id),
                "query_ids": [ObjectId(query_id)],
                "text": f"Café Luna {rng.choice(words)} #{i}",
                "author_handle": f"user{i % 997}",
                "lang": rng.choice(["es", "en"]),
                "sentiment": score,
                "label": label,
                "engine_sentiment": score,
                "engine_label": label,
                "posted_at": posted,
                "fetched_at": posted,
                "status": rng.choice(["new", "new", "assigned", "resolved"]),
                "history": [],
            }
        )
        if len(batch) == 2000:
            collection.insert_many(batch)
            batch = []
    if batch:
        collection.insert_many(batch)


def sign_in(console: str, key: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{console}/sign-in", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = session.post(
        f"{console}/sign-in",
        data={"csrf_token": token, "api_key": key, "name": "bench"},
        timeout=30,
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[:500]
    session.post(
        f"{console}/locale", data={"csrf_token": token, "locale": "en", "next": "/dashboard"}, timeout=30
    )
    return session


def csrf_of(session: requests.Session, console: str) -> str:
    """The session's CSRF token, as the builder's script reads it from its page."""
    page = session.get(f"{console}/segments/new", timeout=30).text
    return re.search(r'data-csrf="([^"]+)"', page).group(1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--mentions", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    started: list[subprocess.Popen] = []
    namespace = f"benchconsole{os.getpid()}."
    tmp = Path(tempfile.mkdtemp(prefix="bench-console-"))
    try:
        mongo_uri = os.environ.get("VINCULO_MONGO_URI")
        if not mongo_uri:
            proc, port = procs.start_mongo_standin(data_dir="memory", log_path=tmp / "store.log")
            started.append(proc)
            mongo_uri = f"mongodb://127.0.0.1:{port}/benchconsole"
            kind = "the MongoDB stand-in (nx-27017 on SQLite), in memory"
        else:
            kind = "MongoDB at VINCULO_MONGO_URI"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("VINCULO_")},
            "VINCULO_MONGO_URI": mongo_uri,
            "VINCULO_AMQP_URL": AMQP,
            "VINCULO_API_KEYS": API_KEYS,
            "VINCULO_SECRET_KEY": SECRET,
            "VINCULO_BROKER_NAMESPACE": namespace,
            "VINCULO_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
            "VINCULO_WEB_WORKERS": "1",
        }
        urls = {}
        for service in BACKENDS:
            port = procs.free_port()
            urls[service] = f"http://127.0.0.1:{port}"
            start(
                f"services.{service}",
                {**env, f"VINCULO_{service.upper()}_BIND": f"127.0.0.1:{port}"},
                tmp,
                started,
            )
        console_port = procs.free_port()
        console = f"http://127.0.0.1:{console_port}"
        start(
            "services.console",
            {
                **env,
                "VINCULO_CONSOLE_BIND": f"127.0.0.1:{console_port}",
                **{f"VINCULO_CONSOLE_{s.upper()}_URL": u for s, u in urls.items()},
            },
            tmp,
            started,
        )
        for url in [*urls.values(), console]:
            wait_up(url)

        store.connect(mongo_uri)
        t0 = time.perf_counter()
        seed_customers(args.customers)
        cm = {"X-API-Key": CM_KEY}
        query = requests.post(
            f"{urls['listener']}/queries",
            headers=cm,
            timeout=30,
            json={"name": "Café Luna", "keywords": ["cafe luna"], "sources": ["x"]},
        ).json()
        seed_mentions(args.mentions, query["id"])
        marketer = {"X-API-Key": MARKETER_KEY}
        template_id = None
        if "mailer" in urls:
            template_id = requests.post(
                f"{urls['mailer']}/templates",
                headers=marketer,
                timeout=30,
                json={
                    "name": "Novedades",
                    "channel": "email",
                    "variants": {
                        "es": {
                            "subject": "Hola {{ first_name }}",
                            "text": "Hola {{ first_name }}",
                            "html": "<p>Hola</p>",
                        }
                    },
                },
            ).json()["id"]
        campaigns = []
        for i in range(30):
            campaigns.append(
                requests.post(
                    f"{urls['campaigns']}/campaigns",
                    headers=marketer,
                    timeout=30,
                    json={
                        "name": f"Campaña {i}",
                        "channel": "email",
                        "topic": "newsletter",
                        "template_id": template_id,
                        "schedule": {"kind": "cron", "cron": "0 9 * * 1", "time_zone": "Europe/Madrid"},
                    },
                ).json()["id"]
            )
        seeded = time.perf_counter() - t0

        pages = {
            "dashboard (marketer)": ("marketer", "/dashboard"),
            "campaigns list": ("marketer", "/campaigns"),
            "campaign detail (cron, results, charts)": ("marketer", f"/campaigns/{campaigns[0]}"),
            "campaign form": ("marketer", f"/campaigns/{campaigns[0]}/edit"),
            "dashboard (community manager)": ("cm", "/dashboard"),
            "mentions inbox, 10,000 mentions": ("cm", "/listening/mentions"),
            "mentions inbox, filtered negative+es": ("cm", "/listening/mentions?label=negative&lang=es"),
            "mentions poll (rows)": ("cm", "/listening/mentions/rows?after=0"),
            "query page (30 days charted)": ("cm", f"/listening/queries/{query['id']}"),
            "alerts": ("cm", "/listening/alerts"),
        }
        posts: dict[str, tuple[str, str, dict]] = {}
        if "segments" in urls:
            from shared.models import Customer

            one = Customer._get_collection().find_one({"email": "c4242@example.com"}, {"_id": 1})["_id"]
            pages["customers: search by name prefix"] = ("marketer", "/customers?name=luc")
            pages["customers: search by e-mail"] = ("marketer", "/customers?email=c4242@example.com")
            pages["customer 360 view"] = ("marketer", f"/customers/{one}")
            segment = requests.post(
                f"{urls['segments']}/segments",
                headers=marketer,
                timeout=120,
                json={"name": "Clientes en España", "rule": {"field": "country", "op": "eq", "value": "ES"}},
            ).json()
            pages["segments list"] = ("marketer", "/segments")
            pages["segment builder (new)"] = ("marketer", "/segments/new")
            pages["segment detail with members"] = ("marketer", f"/segments/{segment['id']}")
            pages["imports list"] = ("marketer", "/imports")
            # the builder's live count and sample (what its script posts as the rule changes)
            posts["live preview: country eq ES"] = (
                "marketer",
                "/segments/preview",
                {"rule": {"field": "country", "op": "eq", "value": "ES"}},
            )
            posts["live preview: ES and stage customer"] = (
                "marketer",
                "/segments/preview",
                {
                    "rule": {
                        "all": [
                            {"field": "country", "op": "eq", "value": "ES"},
                            {"field": "stage", "op": "eq", "value": "customer"},
                        ]
                    }
                },
            )
            posts["live preview: last name starts with nu"] = (
                "marketer",
                "/segments/preview",
                {"rule": {"field": "last_name", "op": "starts_with", "value": "nú"}},
            )
        if template_id:
            pages["templates list"] = ("marketer", "/templates")
            pages["template editor with preview"] = ("marketer", f"/templates/{template_id}")
        sessions = {"marketer": sign_in(console, MARKETER_KEY), "cm": sign_in(console, CM_KEY)}
        print(
            f"store: {kind}; {args.customers:,} customers and {args.mentions:,} mentions seeded in {seeded:.1f} s"
        )
        print(f"machine: {machine()}")
        print(f"{'page':<42} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
        worst = 0.0
        for name, (who, path) in pages.items():
            times = []
            for _ in range(args.rounds):
                t = time.perf_counter()
                answer = sessions[who].get(f"{console}{path}", timeout=60)
                times.append((time.perf_counter() - t) * 1000)
                assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:300]}"
            worst = max(worst, max(times))
            print(f"{name:<42} {statistics.median(times):>10.0f} {pct(times, 95):>8.0f} {max(times):>8.0f}")
        for name, (who, path, body) in posts.items():
            times = []
            token = csrf_of(sessions[who], console)
            for _ in range(args.rounds):
                t = time.perf_counter()
                answer = sessions[who].post(
                    f"{console}{path}", json=body, headers={"X-CSRF-Token": token}, timeout=60
                )
                times.append((time.perf_counter() - t) * 1000)
                assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:300]}"
            worst = max(worst, max(times))
            print(f"{name:<42} {statistics.median(times):>10.0f} {pct(times, 95):>8.0f} {max(times):>8.0f}")
        print(f"slowest single page load: {worst:.0f} ms (target: under 1000 ms)")
        print("the listener API calls behind the slowest pages, called directly:")
        calls = {
            "GET /queries/{id}/stats": (f"/queries/{query['id']}/stats", {}),
            "GET /mentions?limit=50": ("/mentions", {"limit": 50}),
            "GET /mentions?label=negative&status=new&limit=5": (
                "/mentions",
                {"label": "negative", "status": "new", "limit": 5},
            ),
            "GET /queries?limit=200": ("/queries", {"limit": 200}),
        }
        for name, (path, params) in calls.items():
            times = []
            for _ in range(args.rounds):
                t = time.perf_counter()
                requests.get(
                    f"{urls['listener']}{path}", params=params, headers=cm, timeout=60
                ).raise_for_status()
                times.append((time.perf_counter() - t) * 1000)
            print(f"  {name:<50} median {statistics.median(times):>6.0f} ms, max {max(times):>6.0f} ms")
        return 0
    finally:
        for proc in reversed(started):
            procs.stop(proc)
        broker_cleanup(AMQP, namespace)


if __name__ == "__main__":
    sys.exit(main())
