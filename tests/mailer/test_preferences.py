"""Preference center with the Flask test client: tokens (forged, expired,
wrong purpose), CSRF, rate limit, changes recorded and respected by the next
send, pause and frequency, audit log, renewal without disclosure, double opt-in."""

from __future__ import annotations

import re
import time

import requests
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from services.mailer.models import Delivery
from services.mailer.prefs_models import AuditEntry, Preference
from shared.models import ConsentEntry, ConsentState, Customer, SuppressedContact, contact_hash
from tests.mailer.conftest import create_template, make_customer, send_requested
from tests.support import SECRET


class FortyDaysAgo(TimestampSigner):
    """Signs as if it were 40 days ago (a real signer with an earlier clock)."""

    def get_timestamp(self) -> int:
        return int(time.time()) - 40 * 86400


def link(app, customer_id, purpose="preferences", data=None):
    tokens = app.extensions["vinculo"].tokens
    return tokens.sign(purpose, data or {"c": str(customer_id)})


def csrf_of(page) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def consents_of(customer_id) -> dict:
    return {(s.channel, s.topic): s.status for s in ConsentState.objects(customer_id=customer_id)}


def test_page_in_spanish_saves_consents_pause_frequency_with_audit_and_headers(app, events):
    customer = make_customer(
        email="ana@example.com", consent={("email", "newsletter"): "granted"}, events=events
    )
    token = link(app, customer.id)
    browser = app.test_client()
    page = browser.get(f"/p/{token}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "Tus preferencias" in body and "Boletín" in body
    assert 'value="email:newsletter" id="c-email-newsletter" checked' in body
    assert "ana@example.com" not in body.split("<main>")[0]  # nothing personal in the head/links
    assert "script" not in body
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    english = browser.get(f"/p/{token}?lang=en")
    assert "Your preferences" in english.get_data(as_text=True)
    saved = browser.post(
        f"/p/{token}",
        data={
            "csrf": csrf_of(page),
            "consent": ["email:promotions"],
            "pause": "30",
            "frequency": "weekly",
            "language": "es",
        },
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    assert saved.status_code == 200 and "Cambios guardados" in saved.get_data(as_text=True)
    assert consents_of(customer.id) == {
        ("email", "newsletter"): "revoked",
        ("email", "promotions"): "granted",
    }
    entries = ConsentEntry.objects(customer_id=customer.id, source="preference_center")
    assert {(e.topic, e.status, e.ip) for e in entries} == {
        ("newsletter", "revoked", "203.0.113.7"),
        ("promotions", "granted", "203.0.113.7"),
    }
    assert all(e.wording_version == app.config["VINCULO_SETTINGS"].wording_version for e in entries)
    pref = Preference.objects.get(customer_id=customer.id)
    assert pref.frequency == "weekly" and pref.paused_until is not None
    actions = sorted(a.action for a in AuditEntry.objects(customer_id=customer.id))
    assert actions == ["consent", "consent", "preferences"]
    assert all(a.ip == "203.0.113.7" for a in AuditEntry.objects(customer_id=customer.id))


def test_next_send_respects_pause_frequency_and_revocation(app, api, events, sender_for, smtp_server):
    template = create_template(api)
    customer = make_customer(
        email="leo@example.com",
        consent={("email", "newsletter"): "granted", ("email", "promotions"): "granted"},
        events=events,
    )
    token = link(app, customer.id)
    browser = app.test_client()
    csrf = csrf_of(browser.get(f"/p/{token}"))
    browser.post(
        f"/p/{token}",
        data={
            "csrf": csrf,
            "consent": ["email:newsletter", "email:promotions"],
            "pause": "90",
            "frequency": "any",
        },
    )
    sender = sender_for(frequency_cap=0)
    sender.on_send_requested(send_requested(template["id"], [customer.id], campaign_id="c-paused"))
    assert Delivery.objects.get(campaign_id="c-paused").reason == "paused" and not smtp_server.mailbox.count
    # resume, choose at most one a month: one goes out, the next is capped
    browser.post(
        f"/p/{token}",
        data={
            "csrf": csrf,
            "consent": ["email:newsletter", "email:promotions"],
            "pause": "resume",
            "frequency": "monthly",
        },
    )
    sender.on_send_requested(send_requested(template["id"], [customer.id], campaign_id="c-1"))
    sender.on_send_requested(send_requested(template["id"], [customer.id], campaign_id="c-2"))
    assert Delivery.objects.get(campaign_id="c-1").status == "sent"
    assert Delivery.objects.get(campaign_id="c-2").reason == "capped"
    # the preferences link in the message opens this page
    [received] = smtp_server.mailbox.to("leo@example.com")
    # unsubscribing from the newsletter in the center: the next newsletter is skipped
    browser.post(f"/p/{token}", data={"csrf": csrf, "consent": ["email:promotions"], "frequency": "any"})
    sender.on_send_requested(send_requested(template["id"], [customer.id], campaign_id="c-3"))
    assert Delivery.objects.get(campaign_id="c-3").reason == "no_consent"


def test_tokens_forged_expired_and_wrong_purpose_are_refused(app, events):
    customer = make_customer(
        email="eva@example.com", consent={("email", "newsletter"): "granted"}, events=events
    )
    browser = app.test_client()
    good = link(app, customer.id)
    forged = URLSafeTimedSerializer("not-our-secret", salt="vinculo.mailer.preferences").dumps(
        {"c": str(customer.id)}
    )
    unsubscribe = link(
        app, customer.id, "unsubscribe", {"c": str(customer.id), "ch": "email", "t": "newsletter"}
    )
    opened = link(app, customer.id, "open", str(customer.id))
    csrf = csrf_of(browser.get(f"/p/{good}"))
    for bad in (forged, unsubscribe, opened, good[:-4] + "AAAA"):
        assert browser.get(f"/p/{bad}").status_code == 400
        assert browser.get(f"/p/{bad}/data").status_code == 400
        assert browser.post(f"/p/{bad}/erase", data={"csrf": csrf}).status_code == 400
        assert browser.post(f"/p/{bad}", data={"csrf": csrf}).status_code == 400
    # expired: signed 40 days ago with our own secret (links last 30 days by default)
    expired = URLSafeTimedSerializer(SECRET, salt="vinculo.mailer.preferences", signer=FortyDaysAgo).dumps(
        {"c": str(customer.id)}
    )
    page = browser.get(f"/p/{expired}")
    assert page.status_code == 410 and "/p/renew" in page.get_data(as_text=True)
    assert consents_of(customer.id) == {("email", "newsletter"): "granted"}
    assert not AuditEntry.objects(customer_id=customer.id).count()


def test_csrf_refused_on_every_form(app, events):
    customer = make_customer(
        email="rui@example.com", consent={("email", "newsletter"): "granted"}, events=events
    )
    token = link(app, customer.id)
    other = link(app, make_customer(email="otra@example.com").id)
    browser = app.test_client()
    other_csrf = csrf_of(browser.get(f"/p/{other}"))
    for data in ({}, {"csrf": "x" * 64}, {"csrf": other_csrf}):
        assert browser.post(f"/p/{token}", data={**data, "frequency": "weekly"}).status_code == 403
        assert browser.post(f"/p/{token}/erase", data=data).status_code == 403
        assert browser.post(f"/p/{token}/profile", data={**data, "first_name": "X"}).status_code == 403
        fresh = app.test_client()  # no cookie
        assert (
            fresh.post(
                "/subscribe", data={**data, "email": "a@example.com", "topic": "newsletter"}
            ).status_code
            == 403
        )
        assert fresh.post("/p/renew", data={**data, "email": "rui@example.com"}).status_code == 403
    confirm = link(
        app, customer.id, "confirm", {"c": str(customer.id), "ch": "email", "t": "promotions", "k": "n1"}
    )
    assert browser.post(f"/c/{confirm}", data={}).status_code == 403
    assert consents_of(customer.id) == {("email", "newsletter"): "granted"}
    assert Preference.objects.count() == 0


def test_rate_limit_answers_429_with_a_page(settings_for, events):
    from services.mailer.app import create_app

    app = create_app(settings_for(public_rate_limit=3, public_rate_window=3600))
    browser = app.test_client()
    codes = [browser.get("/p/renew").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    page = browser.get("/p/renew")
    assert page.status_code == 429 and "Demasiadas peticiones" in page.get_data(as_text=True)
    assert page.headers["Retry-After"] == "3600"
    # another IP, another endpoint: their own windows
    assert browser.get("/p/renew", environ_base={"REMOTE_ADDR": "198.51.100.9"}).status_code == 200
    assert browser.get("/subscribe").status_code == 200


def test_renewal_answer_never_says_whether_the_address_exists(app, events, smtp_server):
    make_customer(email="mia@example.com", events=events)
    browser = app.test_client()
    answers = []
    for address in ("mia@example.com", "nobody@example.com"):
        csrf = csrf_of(browser.get("/p/renew"))
        answer = browser.post("/p/renew", data={"csrf": csrf, "email": address})
        answers.append((answer.status_code, answer.get_data(as_text=True)))
    assert answers[0] == answers[1] and answers[0][0] == 200
    assert [m.rcpt_tos for m in smtp_server.mailbox.snapshot()] == [["mia@example.com"]]
    body = smtp_server.mailbox.to("mia@example.com")[0].parsed().get_body(("plain",)).get_content()
    path = re.search(r"https://mailer.example(/p/\S+)", body).group(1)
    assert "Tus preferencias" in browser.get(path).get_data(as_text=True)


def test_double_opt_in_pending_never_mailed_until_confirmed(app, api, events, sender_for, smtp_server):
    template = create_template(api)
    customer = make_customer(email="noa@example.com", events=events)
    answer = api.post("/subscriptions", json={"email": "Noa@Example.com", "topic": "newsletter"})
    assert answer.status_code == 202, answer.get_json()
    state = ConsentState.objects.get(customer_id=customer.id)
    assert state.status == "pending" and state.expires_at is not None
    [confirmation] = smtp_server.mailbox.to("noa@example.com")
    body = confirmation.parsed().get_body(("plain",)).get_content()
    path = re.search(r"https://mailer.example(/c/\S+)", body).group(1)
    sender = sender_for(frequency_cap=0)
    sender.on_send_requested(send_requested(template["id"], [customer.id], campaign_id="before"))
    assert Delivery.objects.get(campaign_id="before").reason == "no_consent"
    browser = app.test_client()
    page = browser.get(path)  # a link scanner's GET grants nothing
    assert page.status_code == 200 and ConsentState.objects.get(customer_id=customer.id).status == "pending"
    # a preferences token cannot confirm, a confirm token cannot open the center
    assert browser.post("/c/" + link(app, customer.id), data={"csrf": csrf_of(page)}).status_code == 400
    assert browser.get("/p/" + path.rsplit("/", 1)[1]).status_code == 400
    for _ in range(2):
        assert browser.post(path, data={"csrf": csrf_of(page)}).status_code == 200
    assert ConsentState.objects.get(customer_id=customer.id).status == "granted"
    assert ConsentEntry.objects(customer_id=customer.id, status="granted").count() == 1
    sender.on_send_requested(send_requested(template["id"], [customer.id], campaign_id="after"))
    assert Delivery.objects.get(campaign_id="after").status == "sent"


def test_invalid_form_values_are_refused(app, events):
    customer = make_customer(email="ivo@example.com", events=events)
    token = link(app, customer.id)
    browser = app.test_client()
    csrf = csrf_of(browser.get(f"/p/{token}"))
    for data in ({"consent": ["email:spam"]}, {"pause": "7"}, {"frequency": "hourly"}, {"language": "fr"}):
        assert browser.post(f"/p/{token}", data={"csrf": csrf, **data}).status_code == 422
    assert not ConsentEntry.objects(customer_id=customer.id).count()


def test_name_and_language_corrected_through_segments_and_next_message_in_english(
    service_env, settings_for, api, events, sender_for, smtp_server
):
    from services.mailer.app import create_app
    from tests.support import MARKETER_KEY

    segments = service_env.start_api("segments")
    app = create_app(settings_for(segments_url=segments, segments_api_key=MARKETER_KEY))
    template = create_template(api)
    customer = make_customer(
        email="tom@example.com", consent={("email", "newsletter"): "granted"}, events=events
    )
    token = link(app, customer.id)
    browser = app.test_client()
    csrf = csrf_of(browser.get(f"/p/{token}"))
    answer = browser.post(
        f"/p/{token}/profile", data={"csrf": csrf, "first_name": "Tomás", "last_name": "Ruiz"}
    )
    assert answer.status_code == 200
    answer = browser.post(
        f"/p/{token}", data={"csrf": csrf, "consent": ["email:newsletter"], "language": "en"}
    )
    assert answer.status_code == 200 and "Changes saved" in answer.get_data(as_text=True)
    stored = Customer.objects.get(id=customer.id)
    assert (stored.first_name, stored.last_name, stored.locale) == ("Tomás", "Ruiz", "en")
    assert {a.action for a in AuditEntry.objects(customer_id=customer.id)} == {"profile", "language"}
    sender_for(frequency_cap=0).on_send_requested(send_requested(template["id"], [customer.id]))
    [received] = smtp_server.mailbox.to("tom@example.com")
    assert received.parsed()["Subject"] == "Latest offers for you, Tomás!"


def test_erasure_with_segments_down_still_suppresses_and_revokes(
    settings_for, api, events, sender_for, smtp_server
):
    from devstack.procs import free_port
    from services.mailer.app import create_app

    app = create_app(settings_for(segments_url=f"http://127.0.0.1:{free_port()}"))
    template = create_template(api)
    customer = make_customer(
        email="zoe@example.com",
        phone="+34600111222",
        consent={("email", "newsletter"): "granted"},
        events=events,
    )
    token = link(app, customer.id)
    browser = app.test_client()
    csrf = csrf_of(browser.get(f"/p/{token}/erase"))
    answer = browser.post(f"/p/{token}/erase", data={"csrf": csrf})
    assert answer.status_code == 503 and "Inténtalo de nuevo" in answer.get_data(as_text=True)
    hashes = {s.hash: s.reason for s in SuppressedContact.objects}
    assert hashes == {
        contact_hash("email", "zoe@example.com"): "erased",
        contact_hash("phone", "+34600111222"): "erased",
    }
    assert consents_of(customer.id) == {("email", "newsletter"): "revoked"}
    sender_for().on_send_requested(send_requested(template["id"], [customer.id]))
    assert (
        smtp_server.mailbox.count == 0 and Delivery.objects.get(customer_id=customer.id).status == "skipped"
    )
    # asking again completes it later; the revocation is recorded once
    browser.post(f"/p/{token}/erase", data={"csrf": csrf})
    assert ConsentEntry.objects(customer_id=customer.id, status="revoked").count() == 1


def test_expired_confirmation_grants_nothing_and_is_never_mailed(app, api, events, sender_for, smtp_server):
    template = create_template(api)
    customer = make_customer(email="ada@example.com", events=events)
    assert (
        api.post("/subscriptions", json={"email": "ada@example.com", "topic": "promotions"}).status_code
        == 202
    )
    # our secret and the confirm salt, signed 40 days ago (confirmations last 48 hours)
    late = URLSafeTimedSerializer(SECRET, salt="vinculo.mailer.confirm", signer=FortyDaysAgo).dumps(
        {"c": str(customer.id), "ch": "email", "t": "promotions", "k": "late"}
    )
    assert app.test_client().get(f"/c/{late}").status_code == 410
    answer = app.test_client().post(f"/c/{late}", data={"csrf": "x"})
    assert answer.status_code == 410 and "caducado" in answer.get_data(as_text=True)
    assert ConsentState.objects.get(customer_id=customer.id).status == "pending"
    smtp_server.mailbox.messages.clear()
    sender_for(frequency_cap=0).on_send_requested(
        send_requested(template["id"], [customer.id], topic="promotions")
    )
    assert Delivery.objects.get(customer_id=customer.id).reason == "no_consent"
    assert not smtp_server.mailbox.to("ada@example.com")


def test_subscription_api_needs_a_known_customer(api, events, smtp_server):
    answer = api.post("/subscriptions", json={"email": "stranger@example.com", "topic": "newsletter"})
    assert answer.status_code == 422 and answer.get_json()["details"]
    assert "email" in str(answer.get_json()["details"])
    assert api.post("/subscriptions", json={"email": "x@example.com", "topic": "service"}).status_code == 422
    assert not smtp_server.mailbox.count and not ConsentState.objects.count()


def test_my_data_holds_the_mentions_the_listener_answers_and_is_refused_while_it_is_down(
    service_env, settings_for, events
):
    """The listener owns mentions: "my data" asks its API for them, every page, or says try again."""
    import datetime

    from bson import ObjectId

    from devstack.procs import free_port
    from services.listener.models import Mention
    from services.mailer.app import create_app
    from tests.support import CM_KEY, MARKETER_KEY

    customer = make_customer(email="menciones@example.com", events=events)
    other = make_customer(email="otra@example.com", events=events)
    query = ObjectId()
    at = datetime.datetime(2026, 11, 1)
    for i in range(205):  # more than the listener's largest page
        Mention(
            source="rss",
            post_id=f"p{i}",
            query_id=query,
            text=f"post {i}",
            posted_at=at,
            customer_id=customer.id,
        ).save()
    Mention(
        source="rss", post_id="x", query_id=query, text="not hers", posted_at=at, customer_id=other.id
    ).save()

    listener = service_env.start_api("listener")
    segments = service_env.start_api("segments")  # the timeline's owner answers: only the listener fails
    with_segments = {"segments_url": segments, "segments_api_key": MARKETER_KEY}
    app = create_app(settings_for(listener_url=listener, listener_api_key=CM_KEY, **with_segments))
    token = link(app, customer.id)
    answer = app.test_client().get(f"/p/{token}/data")
    assert answer.status_code == 200
    mentions = answer.get_json()["mentions"]
    assert len(mentions) == 205 and {m["customer_id"] for m in mentions} == {str(customer.id)}
    assert {m["text"] for m in mentions} == {f"post {i}" for i in range(205)}

    down = create_app(
        settings_for(listener_url=f"http://127.0.0.1:{free_port()}", listener_api_key=CM_KEY, **with_segments)
    )
    refused = down.test_client().get(f"/p/{link(down, customer.id)}/data")
    assert refused.status_code == 503 and "Inténtalo de nuevo" in refused.get_data(as_text=True)
    assert refused.headers.get("Content-Disposition") is None


def _timeline_of(customer_id, count: int, at) -> None:
    """``count`` opens on the customer's timeline, as segments' facts consumer stores them."""
    import datetime

    from shared.models import Interaction

    Interaction._get_collection().insert_many(
        [
            {
                "customer_id": customer_id,
                "kind": "message_opened",
                "key": f"delivery:{customer_id}-{i}:opened",
                "at": at + datetime.timedelta(seconds=count - i),  # stored newest first
                "channel": "email",
                "campaign_id": "weekly",
                "data": {"delivery_id": f"{customer_id}-{i}"},
            }
            for i in range(count)
        ]
    )


def test_my_data_holds_the_timeline_segments_answers_every_page_oldest_first(
    service_env, settings_for, events
):
    """Segments owns the timeline: "my data" asks its API for every page of it (more than its
    largest page) and lists it oldest first; what segments records through its own API (a
    purchase) is there, another customer's entries are not."""
    import datetime

    from services.mailer.app import create_app
    from tests.support import CM_KEY, MARKETER_KEY

    customer = make_customer(email="linea@example.com", events=events)
    other = make_customer(email="ajena@example.com", events=events)
    at = datetime.datetime(2026, 10, 1)
    _timeline_of(customer.id, 503, at)  # segments' largest page is 500
    _timeline_of(other.id, 2, at)
    segments = service_env.start_api("segments")
    listener = service_env.start_api("listener")
    recorded = requests.post(
        f"{segments}/customers/{customer.id}/purchases",
        json={"order_id": "PED-1", "amount": 19.9, "currency": "EUR"},
        headers={"X-API-Key": MARKETER_KEY},
        timeout=10,
    )
    assert recorded.status_code == 201, recorded.text
    app = create_app(
        settings_for(
            segments_url=segments,
            segments_api_key=MARKETER_KEY,
            listener_url=listener,
            listener_api_key=CM_KEY,
        )
    )

    answer = app.test_client().get(f"/p/{link(app, customer.id)}/data")
    assert answer.status_code == 200
    timeline = answer.get_json()["interactions"]
    assert len(timeline) == 504 and len({i["id"] for i in timeline}) == 504
    opens = [i for i in timeline if i["kind"] == "message_opened"]
    assert {i["data"]["delivery_id"] for i in opens} == {f"{customer.id}-{i}" for i in range(503)}
    assert [i["at"] for i in timeline] == sorted(i["at"] for i in timeline)
    assert opens[0] == {
        "id": opens[0]["id"],
        "kind": "message_opened",
        "at": "2026-10-01T00:00:01+00:00",
        "channel": "email",
        "campaign_id": "weekly",
        "data": {"delivery_id": f"{customer.id}-502"},
    }
    [purchase] = [i for i in timeline if i["kind"] == "purchase"]
    assert (purchase["amount"], purchase["currency"]) == (19.9, "EUR") and timeline[-1] == purchase


def test_my_data_is_refused_in_the_customers_language_while_segments_is_down(
    service_env, settings_for, events
):
    """Without segments the timeline cannot be told: no download missing it, a page saying try
    again (es or en, as the customer reads the center), and no download in the audit log."""
    import datetime

    from devstack.procs import free_port
    from services.mailer.app import create_app
    from services.mailer.prefs_models import AuditEntry
    from tests.support import CM_KEY, MARKETER_KEY

    customer = make_customer(email="caida@example.com", events=events)
    _timeline_of(customer.id, 3, datetime.datetime(2026, 10, 1))  # held, but segments does not answer
    listener = service_env.start_api("listener")
    app = create_app(
        settings_for(
            segments_url=f"http://127.0.0.1:{free_port()}",
            segments_api_key=MARKETER_KEY,
            listener_url=listener,
            listener_api_key=CM_KEY,
        )
    )
    token = link(app, customer.id)
    browser = app.test_client()
    spanish = browser.get(f"/p/{token}/data")
    assert spanish.status_code == 503 and spanish.headers.get("Content-Disposition") is None
    assert "Inténtalo de nuevo en unos minutos" in spanish.get_data(as_text=True)
    english = browser.get(f"/p/{token}/data?lang=en")
    assert english.status_code == 503 and english.headers.get("Content-Disposition") is None
    assert "Try again in a few minutes" in english.get_data(as_text=True)
    assert not AuditEntry.objects(customer_id=customer.id, action="download").count()
    # the rest of the center still works: the page with the customer's choices opens
    assert browser.get(f"/p/{token}").status_code == 200
