"""Listening queries through the API: validation naming the field, pause and
resume, the state of each source visible on the query."""

from __future__ import annotations

from services.listener.models import SourceCursor
from tests.support import ANALYST_KEY, MARKETER_KEY

QUERY = {
    "name": "Marca",
    "keywords": ["CaféLuna", "cafe luna"],
    "hashtags": ["#CafeLuna"],
    "handles": ["@CafeLuna"],
    "exclusions": ["sorteo"],
    "languages": ["es", "en"],
    "sources": ["x", "mastodon", "rss"],
    "feeds": ["https://blog.example.com/feed.xml"],
}


def test_create_list_pause_and_show_a_query(api):
    created = api("post", "/queries", json=QUERY)
    assert created.status_code == 201, created.json
    body = created.json
    assert body["hashtags"] == ["CafeLuna"] and body["handles"] == ["cafeluna"]
    assert body["active"] is True
    assert body["source_status"]["x"]["status"] == "pending"

    paused = api("patch", f"/queries/{body['id']}", json={"active": False})
    assert paused.status_code == 200 and paused.json["active"] is False
    listed = api("get", "/queries?active=false", key=ANALYST_KEY)
    assert [q["id"] for q in listed.json["items"]] == [body["id"]] and listed.json["total"] == 1
    assert api("get", "/queries?active=true").json["items"] == []
    assert api("post", "/queries", key=MARKETER_KEY, json=QUERY).status_code == 403


def test_validation_names_the_field(api):
    cases = [
        ({**QUERY, "sources": ["facebook"]}, "sources.0"),
        ({**QUERY, "sources": []}, "sources"),
        ({**QUERY, "languages": ["fr"]}, "languages.0"),
        ({**QUERY, "keywords": [], "hashtags": [], "handles": []}, "keywords"),
        ({**QUERY, "feeds": []}, "feeds"),
        ({**QUERY, "feeds": ["ftp://x"]}, "feeds.0"),
        ({**QUERY, "sources": ["mastodon"], "hashtags": [], "keywords": ["café luna"]}, "hashtags"),
        ({**QUERY, "exclusions": ["cafe luna"]}, "exclusions"),
        ({**QUERY, "webhook_url": "not a url"}, "webhook_url"),
        ({k: v for k, v in QUERY.items() if k != "name"}, "name"),
    ]
    for payload, field in cases:
        answer = api("post", "/queries", json=payload)
        assert answer.status_code == 422, (field, answer.json)
        assert answer.json["error"] == "validation_error"
        assert field in answer.json["details"]["fields"], (field, answer.json)
    created = api("post", "/queries", json=QUERY).json
    answer = api("patch", f"/queries/{created['id']}", json={"sources": ["rss"], "feeds": []})
    assert answer.status_code == 422 and "feeds" in answer.json["details"]["fields"]
    assert api("get", "/queries/nope").status_code == 404
    assert api("get", "/queries/5f0000000000000000000000").json["error"] == "not_found"
    for limit in (
        "0",
        "201",
    ):  # a page of 0 was a 500 (a validator returning False checks nothing on marshmallow 4)
        answer = api("get", f"/queries?limit={limit}")
        assert answer.status_code == 422 and "limit" in answer.json["details"]["fields"], answer.json


def test_a_source_stopped_by_an_auth_error_shows_on_the_query_and_restarts_on_edit(api):
    created = api("post", "/queries", json=QUERY).json
    from bson import ObjectId

    SourceCursor(
        query_id=ObjectId(created["id"]),
        source="x",
        status="auth_failed",
        message="X answered 401 Unauthorized: check the bearer token",
    ).save()
    shown = api("get", f"/queries/{created['id']}").json
    assert shown["source_status"]["x"] == {
        "status": "auth_failed",
        "fetched": 0,
        "last_polled_at": None,
        "message": "X answered 401 Unauthorized: check the bearer token",
    }
    api("patch", f"/queries/{created['id']}", json={"name": "Marca 2"})
    assert api("get", f"/queries/{created['id']}").json["source_status"]["x"]["status"] == "pending"
    assert api("delete", f"/queries/{created['id']}").status_code == 204
    assert api("get", f"/queries/{created['id']}").status_code == 404


def test_terms_typed_decomposed_are_the_same_terms(api):
    # "é" as e + U+0301, as text pasted from some macOS apps and PDFs comes.
    query = {
        "name": "Cafe\u0301",
        "keywords": ["Cafe\u0301Luna"],
        "hashtags": ["#Cafe\u0301"],
        "sources": ["mastodon"],
    }
    created = api("post", "/queries", json=query)
    assert created.status_code == 201, created.json
    assert created.json["keywords"] == ["CaféLuna"] and created.json["hashtags"] == ["Café"]
    only_keyword = api("post", "/queries", json={**query, "hashtags": []})
    assert only_keyword.status_code == 201, "a one-word keyword is a Mastodon tag in any normal form"
    same = api("post", "/queries", json={**query, "keywords": ["CaféLuna", "Cafe\u0301Luna"]})
    assert same.json["keywords"] == ["CaféLuna"], "one term, not two"
    overlap = api("post", "/queries", json={**query, "exclusions": ["cafe\u0301luna"]})
    assert overlap.status_code == 422 and "exclusions" in overlap.json["details"]["fields"], overlap.json
