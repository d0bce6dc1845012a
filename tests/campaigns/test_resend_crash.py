"""Resend to failed across a crash: a real campaigns API process killed (SIGKILL, through the
``VINCULO_FAULT`` fault points the outbox reads) after the campaign's ``last_resend_at``
moved and before the requests were published. A repeated resend would request them again
only if someone asked; the intent written before the write lets the relay announce them,
once, and never a resend that was not written."""

from __future__ import annotations

import pytest
import requests
from bson import ObjectId

from services.campaigns.bootstrap import build
from services.campaigns.store import campaigns, facts
from shared.messaging.outbox import intents
from shared.store import utcnow
from tests.campaigns.conftest import bind_queue, take
from tests.campaigns.test_api import body
from tests.support import MARKETER_KEY


def a_sent_campaign_with_one_failure(api, segment, template) -> tuple[str, str]:
    cid = api.post("/campaigns", json=body(segment, template)).get_json()["id"]
    campaigns().update_one({"_id": ObjectId(cid)}, {"$set": {"state": "sent"}})
    person = str(ObjectId())
    facts().insert_one(
        {
            "_id": "d0:failed",
            "campaign_id": cid,
            "customer_id": person,
            "delivery_id": "d0",
            "type": "failed",
            "step": "main",
            "variant": None,
            "bucket": "-|failed",
            "at": utcnow(),
        }
    )
    return cid, person


def killed_resending(service_env, settings, cid: str, fault: str) -> None:
    base = service_env.start_api(
        "campaigns",
        VINCULO_FAULT=fault,
        VINCULO_CAMPAIGNS_MAILER_URL=settings.mailer_url,
        VINCULO_CAMPAIGNS_MAILER_API_KEY=settings.mailer_api_key,
    )
    with pytest.raises(requests.RequestException):
        requests.post(
            f"{base}/campaigns/{cid}/resend-failed", headers={"X-API-Key": MARKETER_KEY}, timeout=20
        )


def relayed(settings) -> int:
    parts = build(settings)
    try:
        return parts.outbox.relay(older_than=0) + parts.outbox.relay(older_than=0)
    finally:
        parts.close()


def test_a_resend_killed_after_its_write_is_requested_once_by_the_relay(
    api, settings, segment, template, service_env
):
    queue = bind_queue(service_env, "send.requested")
    cid, person = a_sent_campaign_with_one_failure(api, segment, template)
    killed_resending(service_env, settings, cid, "after_write")
    assert campaigns().find_one({"_id": ObjectId(cid)})["last_resend_at"] is not None  # written ...
    assert take(service_env, queue) == []  # ... and not requested
    [intent] = intents().find()

    assert relayed(settings) == 1
    [request] = take(service_env, queue)
    assert (request.event().customer_ids, request.event().retry_failed) == ([person], True)
    assert request.message_id in intent["envelopes"][0]
    assert intents().count_documents({}) == 0


def test_a_resend_killed_before_its_write_requests_nothing(api, settings, segment, template, service_env):
    queue = bind_queue(service_env, "send.requested")
    cid, _ = a_sent_campaign_with_one_failure(api, segment, template)
    killed_resending(service_env, settings, cid, "after_intent")
    assert campaigns().find_one({"_id": ObjectId(cid)}).get("last_resend_at") is None
    assert intents().count_documents({}) == 1

    assert relayed(settings) == 0
    assert take(service_env, queue) == []
    assert intents().count_documents({}) == 0
