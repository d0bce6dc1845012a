"""Each source through its real client library against a local server:
pagination, the cursor after a restart, 429 (wait and resume) and 401
(stopped with a status on the query, not a crash loop)."""

from __future__ import annotations

import datetime
from urllib.parse import parse_qs, urlsplit

from services.listener.models import ListeningQuery, Mention, SourceCursor
from tests.support import wait_until


def make_query(**fields) -> ListeningQuery:
    data = {"name": "Café Luna", "keywords": ["cafeluna"], "hashtags": ["CafeLuna"], "sources": ["x"]}
    data.update(fields)
    return ListeningQuery(**data).save()


def cursor_of(query, source) -> SourceCursor:
    return SourceCursor.objects(query_id=query.id, source=source).first()


def params_of(state, path_part):
    return [parse_qs(urlsplit(path).query) for _, path in state.requests if path_part in path]


def test_x_recent_search_pages_resumes_after_restart_waits_on_429_and_stops_on_401(make_poller, fake):
    _, state = fake
    query = make_query(languages=["es", "en"], exclusions=["sorteo"])
    for i in range(5):
        state.add_tweet(f"Me encanta el café de @CafeLuna número {i}", author=f"fan{i}")
    state.add_tweet("Sorteo de café gratis #CafeLuna", author="spam")
    assert make_poller().run_once() == 1
    assert Mention.objects(source="x").count() == 5  # the excluded one is dropped locally too
    searches = params_of(state, "/2/tweets/search/recent")
    assert len(searches) == 3  # 6 tweets, pages of 2, next_token between them
    assert "next_token" in searches[1] and "since_id" not in searches[0]
    assert searches[0]["query"][0] == "(cafeluna OR #CafeLuna) -sorteo (lang:es OR lang:en) -is:retweet"
    first = cursor_of(query, "x")
    assert first.status == "ok" and first.cursor["since_id"] == state.tweets[-1]["id"]

    # A new poller (a restart) continues from the stored cursor: only the new tweets.
    state.add_tweet("Qué mal servicio hoy en @CafeLuna", author="fan9")
    state.requests.clear()
    assert make_poller().run_once() == 1
    assert params_of(state, "/search/recent")[0]["since_id"] == [first.cursor["since_id"]]
    assert Mention.objects(source="x").count() == 6

    # 429 on the second page: the first page is kept, the poll resumes from next_token after the reset.
    for i in range(3):
        state.add_tweet(f"Pedido {i} en @CafeLuna", author="fan1")
    state.fail["x"] = [0, 429]
    poller = make_poller()
    poller.run_once()
    limited = cursor_of(query, "x")
    assert limited.status == "rate_limited" and "429" in limited.message
    assert limited.cursor["next_token"] and limited.next_poll_at is not None
    assert Mention.objects(source="x").count() == 8
    wait_until(
        lambda: poller.run_once() and cursor_of(query, "x").status == "ok",
        timeout=30,
        what="the poll to resume after the reset",
    )
    assert Mention.objects(source="x").count() == 9
    assert "next_token" not in cursor_of(query, "x").cursor

    # 401: the source stops for this query with a message, and is not polled again.
    state.fail["x"] = [401]
    poller.run_once()
    stopped = cursor_of(query, "x")
    assert stopped.status == "auth_failed" and "401" in stopped.message
    state.requests.clear()
    poller.run_once()
    assert state.requests == []


def test_pages_are_stored_as_they_arrive_and_a_failed_page_keeps_them_without_moving_the_cursor(
    make_poller, fake
):
    _, state = fake
    query = make_query()
    for i in range(5):
        state.add_tweet(f"Me encanta @CafeLuna {i}", author=f"fan{i}")
    state.fail["x"] = [0, 503]  # pages of 2: the first page comes, the second fails
    poller = make_poller()
    poller.run_once()
    failed = cursor_of(query, "x")
    assert failed.status == "error" and "503" in failed.message and failed.cursor == {}
    assert Mention.objects(source="x").count() == 2 and failed.fetched == 2
    # The next poll starts again from the same place: the first page again (kept once), then the rest.
    poller.run_once()
    assert cursor_of(query, "x").status == "ok" and Mention.objects(source="x").count() == 5
    assert cursor_of(query, "x").fetched == 5


def test_x_without_a_token_reports_auth_failed(make_poller):
    query = make_query()
    make_poller(x_bearer_token="").run_once()
    assert cursor_of(query, "x").status == "auth_failed"
    assert "bearer token" in cursor_of(query, "x").message


def test_mastodon_hashtag_timeline_reads_forward_with_min_id(make_poller, fake):
    _, state = fake
    query = make_query(sources=["mastodon"], keywords=[], hashtags=["CafeLuna"])
    for i in range(45):
        state.add_status("cafeluna", f"Buen café {i} #CafeLuna", acct=f"user{i}@social.example")
    make_poller().run_once()
    assert Mention.objects(source="mastodon").count() == 40  # first poll: the latest page, no backfill
    first = cursor_of(query, "mastodon")
    assert first.cursor["tags"]["cafeluna"] == state.statuses["cafeluna"][-1]["id"]

    for i in range(45):
        state.add_status("cafeluna", f"Otro café {i} #CafeLuna", acct="local")
    state.requests.clear()
    make_poller().run_once()  # a restart: continues from min_id, two pages
    assert Mention.objects(source="mastodon").count() == 85
    pages = params_of(state, "/timelines/tag/")
    assert [p["min_id"] for p in pages][0] == [first.cursor["tags"]["cafeluna"]] and len(pages) == 2
    local = Mention.objects(source="mastodon", text__contains="Otro café 0").first()
    assert local.author_handle == "local@127.0.0.1" and local.lang == "es"

    state.add_status("cafeluna", "Fatal el servicio #CafeLuna", acct="angry@social.example")
    state.fail["mastodon"] = [429]
    poller = make_poller()
    poller.run_once()
    assert cursor_of(query, "mastodon").status == "rate_limited"
    wait_until(
        lambda: poller.run_once() and cursor_of(query, "mastodon").status == "ok",
        timeout=30,
        what="mastodon to resume after the reset",
    )
    assert Mention.objects(source="mastodon").count() == 86

    state.fail["mastodon"] = [401]
    poller.run_once()
    assert cursor_of(query, "mastodon").status == "auth_failed"
    assert "401" in cursor_of(query, "mastodon").message


def test_rss_matches_locally_dedupes_by_entry_and_keeps_its_place(make_poller, fake):
    base, state = fake
    query = make_query(
        sources=["rss"],
        feeds=[f"{base}/feed.xml"],
        keywords=["Café Luna"],
        hashtags=[],
        exclusions=["patrocinado"],
    )
    same_second = datetime.datetime(2026, 11, 20, 10, 0, tzinfo=datetime.UTC)
    earlier = same_second - datetime.timedelta(hours=3)
    state.add_item("Reseña: Café Luna, el mejor café de Madrid", "Excelente atención", at=same_second)
    state.add_item("Café Luna abre en Bilbao", "Nueva tienda", at=same_second)
    state.add_item("Otra cafetería", "Nada que ver", at=earlier)
    state.add_item("Café Luna (patrocinado)", "Oferta", at=earlier)
    make_poller().run_once()
    assert Mention.objects(source="rss").count() == 2
    # One more in the very same second, one that shows up late with an earlier date; the feed is
    # read again after a restart: each stored once.
    state.add_item("Café Luna sube precios", "Qué caro", at=same_second)
    state.add_item("Café Luna, crónica de ayer", "Tarde", at=earlier)
    make_poller().run_once()
    make_poller().run_once()
    assert Mention.objects(source="rss").count() == 4
    assert cursor_of(query, "rss").cursor["feeds"][f"{base}/feed.xml"]["published"] == "2026-11-20T10:00:00"
    mention = Mention.objects(source="rss", text__contains="sube precios").first()
    assert mention.label == "negative" and mention.lang == "es"

    state.add_item("Café Luna: nuevas tazas", "Bonitas")
    state.fail["rss"] = [429]
    poller = make_poller()
    poller.run_once()
    assert cursor_of(query, "rss").status == "rate_limited"
    wait_until(
        lambda: poller.run_once() and cursor_of(query, "rss").status == "ok",
        timeout=30,
        what="the feed to be read after Retry-After",
    )
    assert Mention.objects(source="rss").count() == 5
    state.fail["rss"] = [401]
    poller.run_once()
    assert cursor_of(query, "rss").status == "auth_failed"


def test_a_paused_query_is_not_polled_and_resumes_where_it_stopped(make_poller, fake, api):
    _, state = fake
    query = make_query()
    state.add_tweet("Me encanta cafeluna", author="ana")
    poller = make_poller()
    poller.run_once()
    assert api("patch", f"/queries/{query.id}", json={"active": False}).status_code == 200
    state.add_tweet("Cafeluna otra vez", author="bob")
    state.requests.clear()
    assert poller.run_once() == 0 and state.requests == []
    api("patch", f"/queries/{query.id}", json={"active": True})
    poller.run_once()
    assert Mention.objects.count() == 2
    shown = api("get", f"/queries/{query.id}").json["source_status"]["x"]
    assert shown["status"] == "ok" and shown["fetched"] == 2 and shown["last_polled_at"].endswith("+00:00")


def test_the_poller_returns_cleanly_once_asked_to_stop(make_poller):
    """SIGTERM sets ``stopping``: run() ends without error and leaves closing to the parts' builder."""
    poller = make_poller()
    poller.stopping.set()
    poller.run()
