"""The console in-process (Flask test client) in front of a real listener api:
sign-in, CSRF, role navigation, both languages, security headers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.console.messages_es import ES
from tests.support import ANALYST_KEY, CM_KEY, MARKETER_KEY

CONSOLE = Path(__file__).resolve().parents[2] / "services" / "console"


def token(client) -> str:
    page = client.get("/sign-in").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def signed_in(app, key, name="Tester", locale="en"):
    client = app.test_client()
    csrf = token(client)
    client.post("/locale", data={"csrf_token": csrf, "locale": locale, "next": "/sign-in"})
    answer = client.post("/sign-in", data={"csrf_token": csrf, "api_key": key, "name": name})
    assert answer.status_code == 302 and answer.headers["Location"] == "/dashboard", answer.get_data(
        as_text=True
    )
    return client


def csrf_of(client, path="/dashboard") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_sign_in_asks_a_service_for_the_role_and_refuses_a_wrong_key(console_app):
    client = console_app.test_client()
    assert client.get("/campaigns").headers["Location"].startswith("/sign-in?next=/campaigns")
    wrong = client.post("/sign-in", data={"csrf_token": token(client), "api_key": "not-a-key-at-all"})
    assert wrong.status_code == 401
    assert ES["That API key is not valid."] in wrong.get_data(as_text=True)  # Spanish by default
    client = signed_in(console_app, CM_KEY, name="Carla")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Carla" in page and "community manager" in page
    cookie = client.get_cookie("vinculo_console")
    assert cookie.http_only and cookie.same_site == "Lax"


def test_sign_in_redirects_only_inside_the_console(console_app):
    client = console_app.test_client()
    answer = client.post(
        "/sign-in", data={"csrf_token": token(client), "api_key": CM_KEY, "next": "//evil.example/phish"}
    )
    assert answer.headers["Location"] == "/dashboard"


def test_a_post_without_the_session_csrf_token_is_refused(console_app):
    client = signed_in(console_app, CM_KEY)
    for data in ({}, {"csrf_token": "forged"}):
        refused = client.post("/listening/queries/new", data={**data, "name": "x", "source_rss": "on"})
        assert refused.status_code == 400
        assert "security token" in refused.get_data(as_text=True)
    assert (
        client.get("/listening/queries").get_data(as_text=True).count('href="/listening/queries/') == 1
    )  # only "new"
    fresh = console_app.test_client()
    assert fresh.post("/sign-in", data={"api_key": CM_KEY}).status_code == 400  # sign-in too


def test_navigation_follows_the_role(console_app):
    nav = {}
    for role, key in (("marketer", MARKETER_KEY), ("cm", CM_KEY), ("analyst", ANALYST_KEY)):
        page = signed_in(console_app, key).get("/dashboard").get_data(as_text=True)
        nav[role] = re.search(r'<nav class="main".*?</nav>', page, re.S).group(0)
    assert 'href="/campaigns"' in nav["marketer"] and 'href="/campaigns"' in nav["analyst"]
    assert 'href="/campaigns"' not in nav["cm"]
    cm = signed_in(console_app, CM_KEY)
    assert cm.get("/campaigns").status_code == 403
    analyst = signed_in(console_app, ANALYST_KEY)
    assert analyst.get("/listening/queries/new").status_code == 403
    assert (
        analyst.post(
            "/listening/mentions/0123456789abcdef01234567/resolve", data={"csrf_token": csrf_of(analyst)}
        ).status_code
        == 403
    )


def test_a_field_error_from_the_service_is_shown_next_to_its_field(console_app):
    client = signed_in(console_app, CM_KEY)
    answer = client.post(
        "/listening/queries/new",
        data={
            "csrf_token": csrf_of(client),
            "name": "Café",
            "keywords": "café",
            "source_rss": "on",
            "feeds": "not a url",
        },
    )
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert re.search(r'class="field-error" role="alert" data-field="feeds\.0">[^<]+<', page)
    assert 'value="not a url"' in page  # what was typed is kept


def test_both_languages_and_the_switcher(console_app):
    client = signed_in(console_app, CM_KEY, locale="es")
    page = client.get("/listening/queries").get_data(as_text=True)
    assert '<html lang="es">' in page and "Búsquedas de escucha" in page
    client.post("/locale", data={"csrf_token": csrf_of(client), "locale": "en", "next": "/listening/queries"})
    page = client.get("/listening/queries").get_data(as_text=True)
    assert '<html lang="en">' in page and "Listening queries" in page


def test_every_text_the_pages_use_has_a_spanish_translation():
    used = set()
    for path in [*CONSOLE.rglob("*.html"), *CONSOLE.rglob("*.py")]:
        text = path.read_text()
        used |= set(re.findall(r"""\b_\(\s*'((?:[^'\\]|\\.)+)'""", text))
        used |= set(re.findall(r'''\b_\(\s*"((?:[^"\\]|\\.)+)"''', text))
    used -= {"English text", "lang_", "webhook_"}  # the docstring's example; prefixes completed at run time
    # texts chosen at run time: states, actions, labels, roles...
    used |= {
        "draft",
        "scheduled",
        "sending",
        "paused",
        "sent",
        "cancelled",
        "failed",
        "schedule",
        "unschedule",
        "pause",
        "resume",
        "cancel",
        "resend-failed",
        "negative",
        "neutral",
        "positive",
        "new",
        "assigned",
        "resolved",
        "open",
        "closed",
        "admin",
        "marketer",
        "community_manager",
        "analyst",
        "email",
        "sms",
        "newsletter",
        "promotions",
        "service",
        "lang_es",
        "lang_en",
        "lang_und",
        "Delivered",
        "Opened",
        "Clicked",
        "Sent",
        "Monday",
        "Sunday",
        "January",
        # the timeline's kinds, the alerts' webhook states
        "message_sent",
        "message_opened",
        "message_clicked",
        "message_bounced",
        "mention",
        "purchase",
        "consent_changed",
        "webhook_none",
        "webhook_pending",
        "webhook_delivered",
        "webhook_failed",
    }
    from services.console import rules as segments  # operators, fields and kinds of condition, in words

    used |= {
        "uploading",
        "queued",
        "running",
        "done",
        "dynamic",
        "static",
        "recompute",
        "archive",
        *segments.UNITS,
        *segments.CAMPAIGN_EVENTS,
        *(f"kind_{k}" for k in segments.KINDS),
        *(f"op_{op}" for ops in segments.OPS.values() for op in ops),
        *(f"field_{f}" for names in segments.FIELDS.values() for f in names),
    }
    missing = sorted(text for text in used if text not in ES)
    assert not missing, f"no Spanish for: {missing}"


def test_pages_carry_security_headers_and_serve_their_own_assets(console_app):
    client = console_app.test_client()
    page = client.get("/sign-in")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    html = page.get_data(as_text=True)
    assert not re.search(r'(src|href)="(https?:)?//', html), "every asset must be served by the console"
    assert " style=" not in html and "onclick" not in html
    for asset in ("/static/console.css", "/static/console.js"):
        assert client.get(asset).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json"])
def test_health_and_openapi_answer_without_signing_in(console_app, path):
    assert console_app.test_client().get(path).status_code == 200


def test_readyz_answers_whether_each_service_api_answers(service_env, listener_url):
    """The console's readiness is its four APIs' (the same shape as theirs); public like /healthz."""
    from tests.console.conftest import in_process_console

    partly = in_process_console(service_env, listener_url=listener_url).test_client().get("/readyz")
    assert partly.status_code == 503
    body = partly.get_json()  # the services' error shape, like their /readyz
    assert body["error"] == "unavailable" and body["details"]["service"] == "console"
    assert body["details"]["checks"]["listener"] == "ok"
    assert all(
        body["details"]["checks"][name].startswith("down: ") for name in ("segments", "campaigns", "mailer")
    )
    # every URL at a live API (the listener's): ready
    whole = in_process_console(
        service_env,
        **{f"{name}_url": listener_url for name in ("segments", "campaigns", "mailer", "listener")},
    )
    ready = whole.test_client().get("/readyz")
    assert ready.status_code == 200 and ready.get_json() == {
        "status": "ready",
        "service": "console",
        "checks": {"segments": "ok", "campaigns": "ok", "mailer": "ok", "listener": "ok"},
    }


def test_a_query_page_says_which_sources_fail_and_why(console_app):
    """A query showed "activa" while X had no token and the feed's host did not resolve; the
    poller's log said so every minute, the page did not. Each source's state, its last poll
    and the listener's reason are on the page, in the community manager's language."""
    import datetime

    from services.listener.models import ListeningQuery, SourceCursor

    query = ListeningQuery(
        name="Café Luna", keywords=["café"], sources=["x", "rss"], feeds=["https://blog.example.com/feed"]
    ).save()
    SourceCursor(
        query_id=query.id,
        source="x",
        status="auth_failed",
        message="no X bearer token configured",
        last_polled_at=datetime.datetime(2026, 12, 6, 9, 0),
    ).save()
    client = signed_in(console_app, CM_KEY, locale="es")
    page = client.get(f"/listening/queries/{query.id}").get_data(as_text=True)
    section = re.search(r"<h2>Estado de las fuentes</h2>.*?</section>", page, re.S).group(0)
    assert "sin acceso: revisa las credenciales" in section and "no X bearer token configured" in section
    assert "último sondeo" in section
    assert re.search(r"<dt>rss</dt><dd><span[^>]*>pendiente</span> aún sin sondear", section), section
