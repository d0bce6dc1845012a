"""A listening query's alert webhook, as the roles that only read queries see it.

``GET /queries`` answered ``webhook_url`` whole to every reader. An incoming-webhook
address is its own credential (``https://hooks.slack.com/services/T…/B…/<secret>``):
an analyst or a marketer, who may not touch queries, could post anything into the
channel the team trusts for alerts. Only the roles that may edit a query (community
manager, admin) read the address; the others see that there is one, and its host."""

from __future__ import annotations

import pytest

from tests.listener.conftest import api, listener_settings  # noqa: F401 - fixtures
from tests.support import ADMIN_KEY, ANALYST_KEY, CM_KEY, MARKETER_KEY

HOOK = "https://hooks.chat.example/services/T0001/B0002/s3cr3tTOKENs3cr3t"
QUERY = {"name": "Marca", "keywords": ["cafe luna"], "sources": ["x"], "webhook_url": HOOK}


@pytest.mark.parametrize("key", [ANALYST_KEY, MARKETER_KEY])
def test_a_reader_of_queries_never_reads_the_webhooks_address(api, key):  # noqa: F811
    created = api("post", "/queries", json=QUERY)
    assert created.status_code == 201, created.json
    query_id = created.json["id"]
    one, listed = api("get", f"/queries/{query_id}", key=key), api("get", "/queries", key=key)
    assert one.status_code == 200 and listed.status_code == 200
    for answer in (one.json, *listed.json["items"]):
        assert "s3cr3t" not in str(answer)
        assert answer["webhook_url"] == "https://hooks.chat.example/***"
    for writer in (CM_KEY, ADMIN_KEY):  # who edits the query reads what they wrote
        assert api("get", f"/queries/{query_id}", key=writer).json["webhook_url"] == HOOK
        assert api("get", "/queries", key=writer).json["items"][0]["webhook_url"] == HOOK
