"""/campaigns/{id}/runs pages with `cursor` like every other list, latest fire first."""

from __future__ import annotations

import datetime

from bson import ObjectId

from services.campaigns.scheduler import fire_id
from services.campaigns.store import campaigns, runs


def test_runs_page_with_a_cursor_to_the_end_latest_first(api):
    cid = ObjectId()
    campaigns().insert_one({"_id": cid, "name": "c", "state": "scheduled"})
    start = datetime.datetime(2026, 1, 1, 9)
    made = []
    for day in range(5):
        at = start + datetime.timedelta(days=day)
        made.append(fire_id(cid, at))
        runs().insert_one({"_id": made[-1], "campaign_id": cid, "due_at": at, "state": "done"})
    runs().insert_one(
        {"_id": fire_id(ObjectId(), start), "campaign_id": ObjectId(), "due_at": start, "state": "done"}
    )
    seen, cursor = [], None
    for _ in range(10):
        page = api.get(
            f"/campaigns/{cid}/runs", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.get_json()
        body = page.get_json()
        assert body["total"] == 5
        seen += [item["id"] for item in body["items"]]
        if not (cursor := body["next"]):
            break
    assert seen == list(reversed(made))
