"""Issue 15, finding 8: only http(s) URLs ever become links in the console.

An RSS item's ``javascript:`` link was rendered as ``<a href="javascript:...">``
in the mentions inbox (only the CSP stopped it). Every ``href`` the console
writes from data now goes through one filter (services/console/links.py)."""

from __future__ import annotations

import datetime
import re

import requests

from services.console.links import link_target
from tests.console.conftest import in_process_console, listener_url  # noqa: F401 - a fixture
from tests.console.test_pages import signed_in
from tests.support import CM_KEY

HOSTILE = [
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/x",
    "/\\evil.example",
    "https:evil.example",
    "mailto:ana@example.com",
]


def ingest(service_env, query_id: str, post_id: str, text: str, url: str):
    """A post through the listener's own pipeline, as the RSS poller stores it."""
    from services.listener.announce import BatchPublisher
    from services.listener.models import DOCUMENTS, ListeningQuery
    from services.listener.pipeline import Pipeline
    from services.listener.sources.base import Post
    from shared import store

    store.connect(service_env.mongo_uri)
    store.ensure_indexes(*DOCUMENTS)
    query = ListeningQuery.objects(id=query_id).first()
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    publisher = BatchPublisher(service_env.amqp_url, service_env.topology)
    try:
        Pipeline(publisher).ingest(
            query,
            [Post(source="rss", post_id=post_id, text=text, author_handle=None, posted_at=now, url=url)],
            server_matched=False,
        )
    finally:
        publisher.close()


def test_a_feed_items_javascript_link_is_never_a_link(service_env, listener_url):  # noqa: F811
    answer = requests.post(
        f"{listener_url}/queries",
        headers={"X-API-Key": CM_KEY},
        timeout=10,
        json={"name": "Café Luna", "keywords": ["café luna"], "sources": ["x"]},
    )
    assert answer.status_code == 201, answer.text
    query_id = answer.json()["id"]
    for n, url in enumerate(HOSTILE):
        ingest(service_env, query_id, f"h{n}", f"Café Luna, otra vez ({n}) 🙂", url)
    ingest(service_env, query_id, "ok", "Café Luna en el blog de Núñez", "https://blog.example/café-luna?x=1")
    client = signed_in(in_process_console(service_env, listener_url=listener_url), CM_KEY, "Carla", "es")
    for path in ("/listening/mentions", "/listening/mentions/rows"):
        page = client.get(path)
        assert page.status_code == 200, page.get_data(as_text=True)
        html = page.json["html"] if page.is_json else page.get_data(as_text=True)
        assert "Café Luna, otra vez (0)" in html and "Café Luna, otra vez (9)" in html
        hrefs = re.findall(r'href="([^"]*)"', html)
        assert "https://blog.example/café-luna?x=1" in hrefs
        for href in hrefs:
            assert href.startswith(("https://", "http://", "/")) and not href.startswith("//"), href
            assert "\\" not in href and "evil.example" not in href, href


def test_the_filter_accepts_http_and_console_paths_only():
    for url in HOSTILE + ["", None, 42, "https://", "http://a b/\x00", "/x\x7f"]:
        assert link_target(url) is None, url
    assert link_target("https://x.com/ana/status/1") == "https://x.com/ana/status/1"
    assert link_target("HTTP://Ejemplo.es/ñandú") == "HTTP://Ejemplo.es/ñandú"
    assert link_target("/listening/mentions?status=new") == "/listening/mentions?status=new"
    assert link_target("https://evil.example/", local_only=True) is None
    assert link_target("/listening/mentions", local_only=True) == "/listening/mentions"
