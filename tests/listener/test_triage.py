"""Community managers' triage: filters with cursor pagination, assign,
resolve, sentiment corrections (kept, and counted by the evaluation script),
daily figures for charts."""

from __future__ import annotations

import datetime

import pytest

from bench.listener.eval_sentiment import corrections
from services.listener.announce import BatchPublisher
from services.listener.models import ListeningQuery, Mention
from services.listener.pipeline import Pipeline
from services.listener.sources.base import Post
from shared.models import Customer, Interaction
from tests.support import ANALYST_KEY, Timeline

DAY1 = datetime.datetime(2026, 11, 20, 9, 0)
DAY2 = datetime.datetime(2026, 11, 21, 18, 30)


@pytest.fixture
def mentions(service_env, listener_settings):
    timeline = Timeline(service_env)  # segments writes the linked mentions' timeline entries
    publisher = BatchPublisher(service_env.amqp_url, service_env.topology)
    pipeline = Pipeline(publisher)
    Customer(email="ana@example.com", social={"x": "ana"}).save()
    brand = ListeningQuery(name="marca", keywords=["luna"], sources=["x", "rss"]).save()
    other = ListeningQuery(name="otra", keywords=["sol"], sources=["x"]).save()
    posts = [
        ("x", "1", "Me encanta Luna, excelente servicio", "ana", DAY1),
        ("x", "2", "Luna: pésima atención, nunca más", "bob", DAY1),
        ("rss", "4", "Luna is awful, worst coffee ever", "", DAY2),
        ("x", "5", "Luna, muy buena la tarta 😍", "dani", DAY2),
        ("x", "6", "Terrible Luna, me cobraron dos veces", "eva", DAY2),
        # Stored last, posted before 4-6: the inbox orders by the post's time.
        ("x", "3", "¿A qué hora abre Luna?", "carla", DAY1 + datetime.timedelta(hours=2)),
    ]
    pipeline.ingest(
        brand, [Post(source=s, post_id=i, text=t, author_handle=a, posted_at=at) for s, i, t, a, at in posts]
    )
    pipeline.ingest(
        other, [Post(source="x", post_id="7", text="Sol y playa", author_handle="f", posted_at=DAY2)]
    )
    publisher.close()
    timeline.deliver()
    return brand, other


def test_filters_and_cursor_pagination(api, mentions):
    brand, other = mentions
    everything = api("get", f"/mentions?query_id={brand.id}").json
    assert everything["total"] == 6 and everything["next"] is None
    seen, cursor = [], None
    while True:
        page = api(
            "get", f"/mentions?query_id={brand.id}&limit=4" + (f"&cursor={cursor}" if cursor else "")
        ).json
        seen += [m["post_id"] for m in page["items"]]
        cursor = page["next"]
        if not cursor:
            break
    assert sorted(seen) == ["1", "2", "3", "4", "5", "6"]
    # Newest post first; posts of the same minute (one poll's batch) newest stored first.
    assert seen == ["6", "5", "4", "3", "2", "1"]
    assert [m["post_id"] for m in everything["items"]] == seen

    def ids(query):
        return sorted(
            m["post_id"] for m in api("get", f"/mentions?query_id={brand.id}&{query}").json["items"]
        )

    assert ids("label=negative") == ["2", "4", "6"]
    assert ids("known=true") == ["1"] and ids("known=false") == ["2", "3", "4", "5", "6"]
    assert ids("source=rss") == ["4"] and ids("lang=en") == ["4"]
    assert ids("min_sentiment=0.2") == ["1", "5"]
    assert ids("max_sentiment=-0.2&min_sentiment=-1") == ["2", "4", "6"]
    assert ids("since=2026-11-21T00:00:00%2B00:00") == ["4", "5", "6"]
    assert ids("until=2026-11-20T10:30:00%2B01:00") == ["1", "2"]
    assert ids("status=new") == ["1", "2", "3", "4", "5", "6"]
    assert api("get", f"/mentions?query_id={other.id}").json["total"] == 1
    linked = api("get", f"/mentions?query_id={brand.id}&source=x&label=positive").json["items"]
    assert any(m["customer_id"] for m in linked)
    for query, field in [
        ("label=bad", "label"),
        ("min_sentiment=0.5&max_sentiment=0", "min_sentiment"),
        ("since=yesterday", "since"),
        ("cursor=zzz", "cursor"),
        ("cursor=12.zz", "cursor"),
        ("cursor=12", "cursor"),
        ("cursor=99999999999999999999.5f0000000000000000000000", "cursor"),
        ("known=yes", "known"),
        ("limit=0", "limit"),
    ]:
        answer = api("get", f"/mentions?{query}")
        assert answer.status_code == 422 and field in answer.json["details"]["fields"], (query, answer.json)
    masked = api("get", f"/mentions?query_id={brand.id}&source=x", key=ANALYST_KEY).json["items"]
    assert all(m["author_handle"].endswith("***") for m in masked)
    assert all(m["url"] is None for m in masked), "an X URL carries the handle"


def test_pages_follow_the_stored_post_time_within_one_second(api, service_env, listener_settings):
    """Posts a few milliseconds apart (a post without a date gets the fetch time): pages keep
    the stored time's order, then the id, and the cursor neither repeats nor skips one."""
    publisher = BatchPublisher(service_env.amqp_url, service_env.topology)
    query = ListeningQuery(name="marca", keywords=["luna"], sources=["x"]).save()
    posts = [
        Post(
            source="x",
            post_id=str(i),
            text=f"Luna {i}",
            author_handle="ana",
            posted_at=DAY1 + datetime.timedelta(microseconds=(i % 3) * 1500),
        )
        for i in range(7)
    ]
    Pipeline(publisher).ingest(query, posts)
    publisher.close()
    seen, cursor = [], None
    while True:
        page = api("get", "/mentions?limit=2" + (f"&cursor={cursor}" if cursor else "")).json
        seen += [m["post_id"] for m in page["items"]]
        if not (cursor := page["next"]):
            break
    everything = [m["post_id"] for m in api("get", "/mentions").json["items"]]
    assert seen == everything and sorted(seen) == [str(i) for i in range(7)], (seen, everything)
    stored = {m.post_id: m.posted_at for m in Mention.objects}
    assert [stored[p] for p in seen] == sorted(stored.values(), reverse=True)


def test_assign_resolve_and_correct_with_who_and_when(api, mentions, service_env):
    brand, _ = mentions
    target = Mention.objects(post_id="1").first()
    assigned = api("post", f"/mentions/{target.id}/assign", json={"assignee": "marta", "by": "jefa"})
    assert assigned.status_code == 200 and assigned.json["status"] == "assigned"
    assert api("get", "/mentions?assignee=marta").json["total"] == 1
    resolved = api(
        "post", f"/mentions/{target.id}/resolve", json={"by": "marta", "note": "respondido por DM"}
    )
    assert resolved.json["status"] == "resolved" and resolved.json["resolved_by"] == "marta"
    assert api("post", f"/mentions/{target.id}/resolve", json={"by": "marta"}).status_code == 409
    assert api("post", f"/mentions/{target.id}/resolve", json={}).status_code == 422

    bad = api(
        "post", f"/mentions/{target.id}/sentiment", json={"label": "negative", "score": 0.7, "by": "marta"}
    )
    assert bad.status_code == 422 and "score" in bad.json["details"]["fields"]
    corrected = api(
        "post",
        f"/mentions/{target.id}/sentiment",
        json={"label": "negative", "score": -0.5, "by": "marta", "note": "sarcasmo"},
    ).json
    assert corrected["label"] == "negative" and corrected["sentiment"] == -0.5
    assert corrected["engine_label"] == "positive"
    assert (
        corrected["correction"]["by"] == "marta" and corrected["correction"]["previous_label"] == "positive"
    )
    assert corrected["correction"]["at"].endswith("+00:00")
    assert [h["action"] for h in corrected["history"]] == ["assigned", "resolved", "sentiment_corrected"]
    assert Timeline(service_env).deliver() == 1  # mention.corrected, to segments' handler
    assert Interaction.objects(key="mention:x:1").first().sentiment == -0.5
    assert api("get", "/mentions?corrected=true").json["total"] == 1
    assert api("post", "/mentions/5f0000000000000000000000/assign", json={"assignee": "x"}).status_code == 404

    counted = corrections(service_env.mongo_uri)
    assert counted["total"] == 1 and counted["changes"] == {"positive->negative": 1}
    assert counted["by_lang"] == {"es": 1}


def test_daily_counts_and_mean_sentiment(api, mentions):
    brand, _ = mentions
    days = api("get", f"/queries/{brand.id}/stats").json["days"]
    assert [d["day"] for d in days] == ["2026-11-20", "2026-11-21"]
    assert [d["count"] for d in days] == [3, 3]
    assert days[0]["negative"] == 1 and days[0]["positive"] == 1 and days[0]["neutral"] == 1
    assert days[1]["negative"] == 2 and -1 < days[1]["mean_sentiment"] < 0
    expected = sum(m.sentiment for m in Mention.objects(post_id__in=["4", "5", "6"])) / 3
    assert days[1]["mean_sentiment"] == pytest.approx(expected, abs=1e-3)
    only = api("get", f"/queries/{brand.id}/stats?since=2026-11-21T00:00:00Z").json["days"]
    assert [d["day"] for d in only] == ["2026-11-21"]
