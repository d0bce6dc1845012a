"""Acknowledged writes survive a stopped or killed store, and clients reconnect.

The reliability suite restarts the store mid-campaign; this pins what it relies
on with a real server process on a data folder (not the shared in-memory one).
Against a real MongoDB (VINCULO_TEST_MONGO_URI) there is no process to restart:
skipped there."""

from __future__ import annotations

import os
import signal
import threading

import pytest
from pymongo import MongoClient, ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from devstack import procs
from tests.support import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(os.environ.get("VINCULO_TEST_MONGO_URI")), reason="restarts the stand-in process"
    ),
]


def _answers(coll) -> bool:
    try:
        coll.find_one({"_id": "counter"})
        return True
    except PyMongoError:
        return False


def _writer(coll, acked: list, stop: threading.Event) -> None:
    n = 0
    while not stop.is_set():
        try:
            coll.insert_one({"n": n})
            coll.update_one({"_id": "counter"}, {"$inc": {"value": 1}}, upsert=True)
            acked.append(n)
        except PyMongoError:
            pass  # the server went away mid-write: not acknowledged, may or may not be kept
        n += 1


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_acknowledged_writes_survive_a_restart_and_clients_reconnect(tmp_path, how):
    proc, port = procs.start_mongo_standin(data_dir=str(tmp_path), log_path=tmp_path / "store.log")
    client = MongoClient(f"mongodb://127.0.0.1:{port}", serverSelectionTimeoutMS=2000)
    try:
        coll = client["restart"]["writes"]
        coll.create_index("n", unique=True)
        acked: list[int] = []
        stop = threading.Event()
        writer = threading.Thread(target=_writer, args=(coll, acked, stop))
        writer.start()
        wait_until(lambda: len(acked) >= 200, timeout=60, what="200 acknowledged writes")
        os.killpg(proc.pid, how)
        proc.wait(30)
        stop.set()
        writer.join(60)
        proc, _ = procs.start_mongo_standin(
            port=port, data_dir=str(tmp_path), log_path=tmp_path / "store.log"
        )
        # the same client, created before the restart, reads and writes again on its own
        wait_until(lambda: _answers(coll), timeout=30, what="the client to reconnect")
        kept = {doc["n"] for doc in coll.find({}, {"n": 1}) if "n" in doc}
        assert set(acked) <= kept, f"{len(set(acked) - kept)} acknowledged writes lost"
        assert coll.find_one({"_id": "counter"})["value"] >= len(acked)
        after = coll.find_one_and_update(
            {"_id": "counter"}, {"$inc": {"value": 1}}, return_document=ReturnDocument.AFTER
        )
        assert after["value"] >= len(acked) + 1
        with pytest.raises(DuplicateKeyError):
            coll.insert_one({"n": acked[0]})
    finally:
        client.close()
        procs.stop(proc)
