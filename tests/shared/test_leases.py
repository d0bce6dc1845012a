"""The lease helper against the real store: one holder at a time, takeover on expiry, owner-only changes."""

from __future__ import annotations

import datetime
import multiprocessing

from shared import store
from shared.leases import Lease


def jobs():
    return store.db().lease_jobs


def lease(owner: str, seconds: float = 30, **options) -> Lease:
    return Lease(jobs, owner, seconds, **options)


def test_two_claimants_never_both_hold_it(mongo_uri):
    jobs().insert_one({"_id": "j1", "status": "queued"})
    a, b = lease("a"), lease("b")
    assert a.claim({"_id": "j1"})["owner"] == "a"
    assert b.claim({"_id": "j1"}) is None
    assert jobs().find_one({"_id": "j1"})["owner"] == "a"
    assert not a.lost("j1") and b.lost("j1")


def _claim_all(uri: str, owner: str, queue) -> None:
    store.connect(uri)
    mine = Lease(jobs, owner, 30)
    taken = []
    while (doc := mine.claim({"status": "queued"}, status="running")) is not None:
        taken.append(doc["_id"])
    queue.put(taken)


def test_claimants_in_several_processes_share_the_work_without_overlap(mongo_uri):
    jobs().insert_many([{"_id": n, "status": "queued"} for n in range(60)])
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_claim_all, args=(mongo_uri, f"w{i}", queue)) for i in range(3)]
    for worker in workers:
        worker.start()
    taken = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    claimed = [n for part in taken for n in part]
    assert sorted(claimed) == list(range(60)), "every job claimed exactly once"


def test_an_expired_lease_is_taken_over_and_the_old_holder_can_no_longer_renew_or_release(mongo_uri):
    jobs().insert_one({"_id": "j1"})
    now = store.utcnow()
    a, b = lease("a", 10), lease("b", 10)
    assert a.claim({"_id": "j1"}, now=now)
    assert b.claim({"_id": "j1"}, now=now + datetime.timedelta(seconds=5)) is None
    taken = b.claim({"_id": "j1"}, now=now + datetime.timedelta(seconds=11))
    assert taken["owner"] == "b"
    assert a.lost("j1", now=now + datetime.timedelta(seconds=11))
    assert not a.renew("j1", progress=1)
    assert not a.release("j1", status="queued")
    doc = jobs().find_one({"_id": "j1"})
    assert (doc["owner"], "progress" in doc, "status" in doc) == ("b", False, False)


def test_renew_by_the_holder_extends_and_saves_progress_and_a_non_owner_is_refused(mongo_uri):
    jobs().insert_one({"_id": "j1"})
    a, b = lease("a", 10), lease("b", 10)
    now = store.utcnow()
    a.claim({"_id": "j1"}, now=now)
    later = now + datetime.timedelta(seconds=8)
    assert not b.renew("j1", now=later, progress=9)
    assert a.renew("j1", now=later, progress=1)
    doc = jobs().find_one({"_id": "j1"})
    assert doc["progress"] == 1
    assert abs(doc["lease_until"] - (later + datetime.timedelta(seconds=10))) < datetime.timedelta(seconds=1)
    assert b.claim({"_id": "j1"}, now=now + datetime.timedelta(seconds=15)) is None, "renewed: still held"
    assert not a.renew("j1", where={"progress": 5}, progress=2), "the extra condition must hold too"


def test_release_frees_it_for_anyone_and_removes_fields_set_to_none(mongo_uri):
    jobs().insert_one({"_id": "j1", "error": "old", "attempts": 1})
    a, b = lease("a"), lease("b")
    a.claim({"_id": "j1"})
    assert a.release("j1", status="queued", error=None, inc={"attempts": -1})
    doc = jobs().find_one({"_id": "j1"})
    assert doc == {"_id": "j1", "status": "queued", "attempts": 0}
    assert not a.release("j1"), "released already"
    assert b.claim({"_id": "j1"})["owner"] == "b"


def test_a_reentrant_lease_is_renewed_by_claiming_and_a_legacy_empty_owner_counts_as_free(mongo_uri):
    jobs().insert_one({"_id": "run", "worker": "", "worker_until": datetime.datetime(1970, 1, 1)})
    fields = {"owner_field": "worker", "until_field": "worker_until", "reentrant": True}
    a, b = lease("a", **fields), lease("b", **fields)
    assert a.claim({"_id": "run"})
    assert a.claim({"_id": "run"}), "the holder claims again"
    assert b.claim({"_id": "run"}) is None
    assert a.held(jobs().find_one({"_id": "run"}), store.utcnow())
    jobs().update_one({"_id": "run"}, {"$unset": a.vacant()})
    assert not a.held(jobs().find_one({"_id": "run"}), store.utcnow())
    assert b.claim({"_id": "run"})["worker"] == "b"


def test_an_upserted_lease_document_has_one_holder(mongo_uri):
    now = store.utcnow()
    a, b = lease("a", 10, reentrant=True), lease("b", 10, reentrant=True)
    assert a.claim({"_id": "singleton"}, now=now, upsert=True)
    assert b.claim({"_id": "singleton"}, now=now, upsert=True) is None
    assert a.claim({"_id": "singleton"}, now=now, upsert=True)
    a.release("singleton")
    assert b.claim({"_id": "singleton"}, now=now, upsert=True)["owner"] == "b"
    assert jobs().count_documents({}) == 1
