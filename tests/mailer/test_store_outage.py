"""A live worker whose message the relay accepted keeps trying to record it
through a store outage (up to the claim lease) instead of leaving it
``sending`` for another worker to send again. Found by the reliability
suite's store-restart scenario (tests/reliability/test_campaign_survives.py)."""

from __future__ import annotations

import threading

import pytest
from pymongo import MongoClient
from pymongo.errors import ConnectionFailure

from services.mailer.sender import Sender
from tests.reliability.infra import PrivateStore


def test_recording_an_accepted_message_rides_out_a_store_restart(settings_for, tmp_path):
    private = PrivateStore(tmp_path / "store").start()
    client = MongoClient(private.uri("outage"), serverSelectionTimeoutMS=1000)
    try:
        collection = client["outage"]["deliveries"]
        collection.insert_one({"_id": 1, "status": "sending"})
        private.stop()
        back = threading.Timer(2.0, private.start)  # the store comes back while the worker retries
        back.start()
        Sender(settings_for(claim_lease=60.0), events=None)._record_accepted(
            lambda: collection.update_one({"_id": 1}, {"$set": {"status": "sent"}})
        )
        back.join()
        assert collection.find_one({"_id": 1})["status"] == "sent"
    finally:
        client.close()
        private.stop()


def test_past_the_claim_lease_the_worker_gives_up_and_a_recovery_takes_over(settings_for, tmp_path):
    private = PrivateStore(tmp_path / "store").start()
    client = MongoClient(private.uri("outage"), serverSelectionTimeoutMS=300)
    try:
        private.stop()
        with pytest.raises(ConnectionFailure):
            Sender(settings_for(claim_lease=1.0), events=None)._record_accepted(
                lambda: client["outage"]["deliveries"].update_one({"_id": 1}, {"$set": {"status": "sent"}})
            )
    finally:
        client.close()
        private.stop()
