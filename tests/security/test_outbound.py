"""User-supplied URLs (feeds, webhooks) go through one guarded client
(issue 15, findings 6 and 7): internal addresses refused unless the
development setting allows them, every redirect checked again, one DNS
answer per hop (no rebinding), a size limit that stops a huge feed while it
streams, and statuses that never echo what the remote server answered.

Every server here listens on 127.0.0.1; addresses such as 169.254.169.254
are refused before any connection is made, so nothing leaves loopback.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from bson import ObjectId

from shared.outbound import Outbound, OutboundError, OutboundRefused
from tests.support import CM_KEY

SECRET = "INTERNAL-ADMIN-TOKEN-7f3a"
FEED = (
    "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Blog</title>"
    "<item><guid>https://blog.example.com/p/1</guid><title>Café Luna abre en Cádiz</title>"
    "<pubDate>Fri, 20 Nov 2026 10:00:00 GMT</pubDate></item></channel></rss>"
)


class Local:
    """A local server with a few behaviours; counts requests and bytes it managed to send."""

    def __init__(self):
        self.requests: list[tuple[str, str, str]] = []  # (method, path, Host header)
        self.sent = 0
        local = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body: bytes, headers=None):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                self.do_GET()

            def do_GET(self):
                local.requests.append((self.command, self.path, self.headers.get("Host", "")))
                if self.path == "/feed.xml":
                    self.reply(200, FEED.encode(), {"Content-Type": "application/rss+xml"})
                elif self.path == "/internal":
                    self.reply(
                        200, f'{{"admin_token": "{SECRET}"}}'.encode(), {"Content-Type": "application/json"}
                    )
                elif self.path == "/forbidden":
                    self.send_response(403, f"Forbidden {SECRET}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path.startswith("/redirect?to="):
                    self.reply(302, b"", {"Location": self.path.split("=", 1)[1]})
                elif self.path == "/huge":
                    # 300 MB without Content-Length (chunked): only a streaming limit stops it.
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"<item><title>" + b"x" * 65_000 + b"</title></item>"
                    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
                    try:
                        for _ in range(300_000_000 // len(chunk)):
                            self.wfile.write(framed)
                            local.sent += len(chunk)
                        self.wfile.write(b"0\r\n\r\n")
                    except OSError:
                        pass  # the client stopped reading
                else:
                    self.reply(404, b"")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local():
    server = Local()
    yield server
    server.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.9.9.9:8080/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[ff02::1]/",
        "http://localhost/",
    ],
)
def test_internal_addresses_are_refused_before_connecting(url):
    with pytest.raises(OutboundRefused):
        Outbound().get(url)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:25/",
        "ftp://example.com/",
        "javascript:alert(1)",
        "http:///nohost",
    ],
)
def test_only_http_and_https_urls_are_taken(url):
    with pytest.raises(OutboundRefused):
        Outbound(allow_private=True).get(url)


def test_a_local_server_is_refused_by_default_and_reached_only_when_allowed(local):
    with pytest.raises(OutboundRefused, match="loopback"):
        Outbound().get(f"{local.base}/feed.xml")
    assert local.requests == [], "nothing was sent"
    assert Outbound(allow_private=True).get(f"{local.base}/feed.xml").content == FEED.encode()


def test_every_redirect_is_checked_again(local):
    # Only this test server's address is let through, so the first hop is allowed and each
    # redirect target goes through the same check as a first request would.
    client = Outbound(allow_addresses={"127.0.0.1"})
    for target in ("http://169.254.169.254/latest/meta-data/", "http://127.0.0.2/", "gopher://127.0.0.1/"):
        with pytest.raises(OutboundRefused):
            client.get(f"{local.base}/redirect?to={target}")
    assert client.get(f"{local.base}/redirect?to=/feed.xml").content == FEED.encode()
    with pytest.raises(OutboundError, match="redirects"):
        Outbound(allow_addresses={"127.0.0.1"}, max_redirects=2).get(
            f"{local.base}/redirect?to=/redirect?to=/redirect?to=/feed.xml"
        )


def test_the_name_is_resolved_once_per_hop_and_the_checked_address_is_the_one_connected(local, monkeypatch):
    """DNS rebinding: a name that answers a public address to the check and an internal one later."""
    port = local.server.server_address[1]
    answers = []
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host != "rebind.example":
            return real(host, *args, **kwargs)
        # The first answer is the one the client checked (127.0.0.1 is let through in this test);
        # any later lookup would get 127.0.0.2: refused by the check, and nothing listens there.
        address = "127.0.0.1" if not answers else "127.0.0.2"
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)  # the stdlib resolver stands in for a DNS server
    response = Outbound(allow_addresses={"127.0.0.1"}).get(f"http://rebind.example:{port}/feed.xml")
    assert response.status == 200 and answers == ["127.0.0.1"]
    assert local.requests[-1] == ("GET", "/feed.xml", f"rebind.example:{port}")


@pytest.fixture
def tls_server(local):
    """The same local server behind TLS, with a certificate for feeds.example only (trustme's CA)."""
    import ssl

    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("feeds.example").configure_cert(context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), local.server.RequestHandlerClass)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with ca.cert_pem.tempfile() as ca_file:
        yield server.server_address[1], ca_file
    server.shutdown()
    server.server_close()


def test_https_to_the_pinned_address_still_checks_the_certificate_name(tls_server, monkeypatch):
    port, ca_file = tls_server
    real = socket.getaddrinfo

    def names(host, *args, **kwargs):  # the stdlib resolver stands in for a DNS server
        if host in ("feeds.example", "other.example"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", names)
    client = Outbound(allow_addresses={"127.0.0.1"}, ca_file=ca_file)
    response = client.get(f"https://feeds.example:{port}/feed.xml")
    assert response.status == 200 and response.content == FEED.encode()
    with pytest.raises(OutboundError, match="TLS with other.example failed"):
        client.get(f"https://other.example:{port}/feed.xml")  # the certificate names feeds.example only
    with pytest.raises(OutboundError, match="TLS"):
        Outbound(allow_addresses={"127.0.0.1"}).get(f"https://feeds.example:{port}/feed.xml")  # unknown CA


def test_a_huge_answer_is_cut_while_streaming(local):
    client = Outbound(allow_private=True, max_bytes=5 * 1024 * 1024)
    with pytest.raises(OutboundError, match="larger than 5242880 bytes"):
        client.get(f"{local.base}/huge")
    # The server could only push what the socket buffers took past the limit: far from 300 MB.
    assert local.sent < 64 * 1024 * 1024


# --- the listener: poller, alerts, API edge -------------------------------------------------------


def poll_rss(service_env, url: str, **overrides):
    from services.listener.bootstrap import build
    from services.listener.models import ListeningQuery, SourceCursor
    from services.listener.poller import Poller
    from services.listener.settings import load

    settings = service_env.settings(load, poll_interval=0.0, poll_idle=0.05, **overrides)
    query = ListeningQuery(name="Café Luna", keywords=["café"], sources=["rss"], feeds=[url]).save()
    parts = build(settings)
    try:
        Poller(parts).run_once()
    finally:
        parts.close()
    return SourceCursor.objects(query_id=query.id, source="rss").first()


def test_setting_is_off_by_default(service_env):
    from services.listener.settings import load

    assert load(service_env.env()).allow_private_urls is False
    assert load(service_env.env(VINCULO_ALLOW_PRIVATE_URLS="1")).allow_private_urls is True


def test_the_poller_refuses_an_internal_feed_and_never_echoes_its_answer(service_env, local):
    refused = poll_rss(service_env, f"{local.base}/internal")
    assert refused.status == "error" and "loopback address: not allowed" in refused.message
    assert local.requests == []
    # Allowed (local development): the page is fetched, yet the status does not quote it.
    fetched = poll_rss(service_env, f"{local.base}/internal", allow_private_urls=True)
    assert fetched.status == "error" and "not an RSS or Atom feed" in fetched.message
    assert SECRET not in fetched.message
    forbidden = poll_rss(service_env, f"{local.base}/forbidden", allow_private_urls=True)
    assert forbidden.status == "auth_failed" and SECRET not in forbidden.message


def test_a_300_mb_feed_is_stopped_at_the_size_limit(service_env, local):
    cursor = poll_rss(
        service_env, f"{local.base}/huge", allow_private_urls=True, outbound_max_bytes=1024 * 1024
    )
    assert cursor.status == "error" and "larger than 1048576 bytes" in cursor.message
    assert local.sent < 64 * 1024 * 1024


def test_an_alert_webhook_to_a_local_port_is_refused(service_env, local):
    from services.listener.alerts import Alerts, Rule
    from services.listener.announce import BatchPublisher
    from services.listener.models import ListeningQuery, WebhookCall
    from services.listener.settings import load

    settings = service_env.settings(load)
    alerts = Alerts(
        BatchPublisher(service_env.amqp_url, service_env.topology),
        Rule(),
        webhook_attempts=1,
        outbound=settings.outbound(settings.webhook_timeout),
    )
    query = ListeningQuery(
        name="marca", keywords=["luna"], sources=["x"], webhook_url=f"{local.base}/hook"
    ).save()
    try:
        assert alerts.call_webhook(ObjectId(), query.id, query.webhook_url, {"alert_id": "a1"}) is False
    finally:
        alerts.close()
        alerts.publisher.close()
    call = WebhookCall.objects(query_id=query.id).first()
    assert call.ok is False and "loopback address: not allowed" in call.error
    assert local.requests == []


@pytest.fixture
def listener_api(service_env):
    from services.listener.app import create_app
    from services.listener.settings import load

    app = create_app(service_env.settings(load))
    app.testing = True
    client = app.test_client()
    return lambda method, path, **kw: client.open(path, method=method, headers={"X-API-Key": CM_KEY}, **kw)


@pytest.mark.parametrize(
    "field,body",
    [
        (
            "feeds.1",
            {"feeds": ["https://blog.example.com/feed.xml", "http://169.254.169.254/latest/meta-data/"]},
        ),
        ("feeds.0", {"feeds": ["http://[::1]:8080/feed"]}),
        ("feeds.0", {"feeds": ["http://localhost:9000/feed"]}),
        (
            "webhook_url",
            {"feeds": ["https://blog.example.com/feed.xml"], "webhook_url": "http://127.0.0.1:8080/hook"},
        ),
        (
            "webhook_url",
            {"feeds": ["https://blog.example.com/feed.xml"], "webhook_url": "http://10.1.2.3/hook"},
        ),
    ],
)
def test_the_api_refuses_literal_internal_hosts_naming_the_field(listener_api, field, body):
    from services.listener.models import ListeningQuery

    answer = listener_api(
        "POST", "/queries", json={"name": "Ñandú", "keywords": ["ñandú"], "sources": ["rss"], **body}
    )
    assert answer.status_code == 422, answer.get_json()
    assert list(answer.get_json()["details"]["fields"]) == [field]
    assert ListeningQuery.objects.count() == 0


def test_the_api_takes_public_and_idn_hosts(listener_api):
    created = listener_api(
        "POST",
        "/queries",
        json={
            "name": "Libros",
            "keywords": ["bücher"],
            "sources": ["rss"],
            "feeds": ["https://bücher.example/feed.xml"],
            "webhook_url": "https://hooks.example.com/vinculo",
        },
    )
    assert created.status_code == 201, created.get_json()
    patched = listener_api(
        "PATCH", f"/queries/{created.get_json()['id']}", json={"webhook_url": "http://169.254.169.254/"}
    )
    assert patched.status_code == 422 and "webhook_url" in patched.get_json()["details"]["fields"]
