"""VINCULO_TRUSTED_PROXIES: the client's address behind nginx or a load balancer.

With 0 (the default) a forged X-Forwarded-For changes nothing: throttles count the peer and
consent records keep the peer's address. With N, the N-th value from the right (what the
outermost trusted proxy appended) is the client; whatever the client wrote before it is
ignored, and a forwarded value that is no address leaves the peer's. No forwarded header,
however malformed, gives a 5xx.
"""

from __future__ import annotations

import itertools
import socket

import pytest

from services.console import accounts
from shared import store
from shared.http.auth import FAILURE_LIMIT
from shared.http.proxies import address
from tests.console.conftest import in_process_console
from tests.console.test_pages import token
from tests.mailer.conftest import make_customer
from tests.security.conftest import service_app
from tests.support import ADMIN_KEY, MARKETER_KEY

PROXY = "10.20.30.40"  # the peer every request comes from, as behind nginx
SERIAL = itertools.count()


def client_of(app, peer: str, forwarded: str | None = None):
    """A test client whose requests come from ``peer`` carrying ``forwarded`` as X-Forwarded-For."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = peer
    if forwarded is not None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded
    return client


def consent_ip(app, peer: str, forwarded: str | None) -> str:
    """The ``ip`` the mailer records for a consent given through the API (no ip in the body)."""
    customer = make_customer(email=f"inés{next(SERIAL)}@ejemplo.es")
    answer = client_of(app, peer, forwarded).post(
        f"/customers/{customer.id}/consents",
        json={"channel": "email", "topic": "newsletter", "status": "granted", "source": "api"},
        headers={"X-API-Key": MARKETER_KEY},
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["ip"]


def unsubscribe_ip(app, peer: str, forwarded: str | None) -> str:
    """The ``ip`` of the consent entry a one-click unsubscribe records."""
    from shared.models import ConsentEntry

    customer = make_customer(email=f"zoë{next(SERIAL)}@ejemplo.es")
    signed = app.extensions["vinculo"].tokens.sign(
        "unsubscribe", {"c": str(customer.id), "ch": "email", "t": "newsletter"}
    )
    answer = client_of(app, peer, forwarded).post(f"/u/{signed}", data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    return ConsentEntry.objects.get(customer_id=customer.id, source="unsubscribe").ip


def throttled_by_wrong_keys(app, peer: str, forwarded_each) -> None:
    """FAILURE_LIMIT wrong API keys, the n-th with X-Forwarded-For ``forwarded_each(n)``."""
    for n in range(FAILURE_LIMIT):
        wrong = client_of(app, peer, forwarded_each(n)).get("/whoami", headers={"X-API-Key": f"guess-{n}"})
        assert wrong.status_code == 401


def whoami(app, peer: str, forwarded: str | None = None) -> int:
    return client_of(app, peer, forwarded).get("/whoami", headers={"X-API-Key": ADMIN_KEY}).status_code


# --- 0: the default, no forwarded header is read ---------------------------------------------


def test_by_default_a_forged_forwarded_for_escapes_no_throttle(service_env):
    app = service_app("segments", service_env)
    assert app.config["VINCULO_SETTINGS"].trusted_proxies == 0
    peer = "192.0.2.11"
    throttled_by_wrong_keys(app, peer, lambda n: f"203.0.113.{n + 1}")  # a new "client" each time
    assert whoami(app, peer, "198.51.100.200") == 429  # still the same peer
    assert whoami(app, "192.0.2.12", "192.0.2.11") == 200  # another peer naming the throttled one


def test_by_default_consent_records_keep_the_peers_address(service_env):
    app = service_app("mailer", service_env)
    assert consent_ip(app, "192.0.2.21", "203.0.113.9") == "192.0.2.21"
    assert unsubscribe_ip(app, "192.0.2.22", "203.0.113.9") == "192.0.2.22"


def test_by_default_the_preference_pages_limit_counts_the_peer(service_env):
    app = service_app("mailer", service_env, public_rate_limit=3, public_rate_window=3600)
    codes = [client_of(app, "192.0.2.31", f"203.0.113.{n}").get("/p/renew").status_code for n in range(4)]
    assert codes == [200, 200, 200, 429]


# --- 1: one proxy in front, its last hop is the client ---------------------------------------


def test_behind_one_proxy_each_client_has_its_own_throttle(service_env):
    app = service_app("listener", service_env, trusted_proxies=1)
    throttled_by_wrong_keys(app, PROXY, lambda n: "203.0.113.41")
    assert whoami(app, PROXY, "203.0.113.41") == 429
    assert whoami(app, PROXY, "203.0.113.42") == 200  # another client through the same proxy
    assert whoami(app, PROXY) == 200  # the proxy itself (a health check) is not throttled


def test_behind_one_proxy_what_the_client_wrote_before_the_last_hop_is_ignored(service_env):
    app = service_app("segments", service_env, trusted_proxies=1)
    # the client forges a new address each time; the proxy appends the real one
    throttled_by_wrong_keys(app, PROXY, lambda n: f"198.51.100.{n + 1}, 203.0.113.51")
    assert whoami(app, PROXY, "192.0.2.99, 203.0.113.51") == 429
    assert whoami(app, PROXY, "203.0.113.51, 203.0.113.52") == 200  # naming the throttled one helps no one

    mailer = service_app("mailer", service_env, trusted_proxies=1)
    assert consent_ip(mailer, PROXY, "198.51.100.66, 203.0.113.53") == "203.0.113.53"
    assert unsubscribe_ip(mailer, PROXY, "198.51.100.66,203.0.113.54") == "203.0.113.54"


def test_behind_two_proxies_the_outer_ones_client_is_taken(service_env):
    app = service_app("mailer", service_env, trusted_proxies=2)
    # client -> load balancer (appends the client) -> nginx (appends the balancer) -> mailer
    assert consent_ip(app, PROXY, "198.51.100.1, 203.0.113.61, 10.0.0.5") == "203.0.113.61"
    assert consent_ip(app, PROXY, "203.0.113.62") == PROXY  # fewer hops than trusted: the peer


def test_behind_one_proxy_the_preference_pages_limit_counts_each_client(service_env):
    app = service_app("mailer", service_env, trusted_proxies=1, public_rate_limit=3, public_rate_window=3600)
    codes = [client_of(app, PROXY, "forged, 203.0.113.71").get("/p/renew").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert client_of(app, PROXY, "203.0.113.72").get("/p/renew").status_code == 200


def test_behind_one_proxy_the_console_throttles_each_client_and_records_its_address(service_env):
    app = in_process_console(service_env, trusted_proxies=1)
    accounts.create_user("lucía@ejemplo.es", "Lucía", "marketer", "una contraseña bastante larga")
    attacker = client_of(app, PROXY, "203.0.113.81")
    for n in range(accounts.CLIENT_FAILURES):
        wrong = attacker.post(
            "/sign-in", data={"csrf_token": token(attacker), "email": f"nadie{n}@ejemplo.es", "password": "x"}
        )
        assert wrong.status_code == 401
    right = {"email": "lucía@ejemplo.es", "password": "una contraseña bastante larga"}
    assert attacker.post("/sign-in", data={"csrf_token": token(attacker), **right}).status_code == 429
    person = client_of(app, PROXY, "forged-by-lucía, 2001:DB8::0:7")
    assert person.post("/sign-in", data={"csrf_token": token(person), **right}).status_code == 302
    [session] = store.db().console_sessions.find({"user_name": "Lucía"})
    assert session["client"] == "2001:db8::7"  # the address, written one way


def test_the_setting_is_read_from_the_environment_by_a_real_api_process(service_env):
    """VINCULO_TRUSTED_PROXIES set once, as in deploy/example.env, reaches a gunicorn api."""
    import requests

    base = service_env.start_api("listener", VINCULO_TRUSTED_PROXIES="1")
    for n in range(FAILURE_LIMIT):
        wrong = requests.get(
            f"{base}/whoami",
            headers={"X-API-Key": f"guess-{n}", "X-Forwarded-For": f"198.51.100.{n}, 203.0.113.91"},
            timeout=5,
        )
        assert wrong.status_code == 401

    def keyed_from(client: str) -> int:
        headers = {"X-API-Key": ADMIN_KEY, "X-Forwarded-For": client}
        return requests.get(f"{base}/whoami", headers=headers, timeout=5).status_code

    assert keyed_from("203.0.113.91") == 429
    assert keyed_from("203.0.113.92") == 200
    for raw in GARBAGE_BYTES:
        assert raw_status(base, b"/healthz", raw) == 200, raw
        assert raw_status(base, b"/whoami", raw, key=ADMIN_KEY.encode()) == 200, raw


# --- whatever the header holds: no 5xx, and an address or the peer's ---------------------------

GARBAGE = [
    "",
    " ",
    ",",
    ", , ,",
    "unknown",
    "_hidden",
    "evil.example",
    "203.0.113.300",
    "2001:db8::1",
    "[2001:db8::1]:4711",
    "203.0.113.5:4711",
    "fe80::1%eth0",
    "::ffff:203.0.113.6",
    "Ã©Ã±ðŸ˜€",  # UTF-8 as a WSGI server hands it over (latin-1)
    "1.2.3.4\t, \t5.6.7.8",
    "<script>alert(1)</script>",
    "\"quoted\", '203.0.113.7'",
    "203.0.113.8, " * 2000,
    "x" * 100_000,
]


@pytest.mark.parametrize("hops", [0, 1, 2])
def test_any_forwarded_header_gives_an_address_and_never_a_5xx(service_env, hops):
    app = service_app("mailer", service_env, trusted_proxies=hops)
    peer = f"10.20.30.{50 + hops}"
    for forwarded in GARBAGE:
        for path in ("/healthz", "/p/renew", "/subscribe"):
            assert client_of(app, peer, forwarded).get(path).status_code < 500, (path, forwarded[:60])
        recorded = consent_ip(app, peer, forwarded)
        assert address(recorded) == recorded, forwarded[:60]
        if hops == 0:
            assert recorded == peer


def test_forwarded_values_are_read_as_addresses():
    assert address("[2001:DB8::1]:4711") == "2001:db8::1"
    assert address(" 203.0.113.5:4711 ") == "203.0.113.5"
    assert address("::ffff:203.0.113.6") is not None  # IPv4 mapped, written as Python writes it
    for bad in ("", "unknown", "203.0.113.300", "evil.example", "[2001:db8::1", "[::1]x", "1:2:3", "é"):
        assert address(bad) is None, bad


GARBAGE_BYTES = [
    b"",
    "é, ñ, 😀".encode(),
    "مرحبا, 203.0.113.93".encode(),
    b"\xff\xfe\x00".replace(b"\x00", b""),
    b"203.0.113.94, " * 500,
    b"[2001:db8::94]:443",
]


def raw_status(base: str, path: bytes, forwarded: bytes, key: bytes | None = None) -> int:
    """Status of a GET sent as bytes: the X-Forwarded-For a client library would refuse to send."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        request = b"GET " + path + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n"
        request += b"X-Forwarded-For: " + forwarded + b"\r\n"
        if key:
            request += b"X-API-Key: " + key + b"\r\n"
        sock.sendall(request + b"\r\n")
        head = sock.recv(64)
    return int(head.split(b" ", 2)[1])


@pytest.mark.parametrize(
    "hops, proto, secure",
    [
        (0, "https", False),  # no proxy trusted: the client's claim is not read
        (1, "https", True),  # nginx ended TLS and called the app over http
        (1, "HTTPS", True),
        (1, "http", False),
        (1, "javascript", False),
        (1, "https, http", False),  # the proxy's own value is the last one
        (1, "http, https", True),
        (1, "ñ\u202e", False),
        # a balancer ended TLS and called nginx over http: the outer of the two hops says https
        (2, "https, http", True),
        (2, "http, https", False),
    ],
)
def test_behind_a_proxy_that_ends_tls_the_preference_pages_send_hsts_and_a_secure_cookie(
    service_env, hops, proto, secure
):
    app = service_app("mailer", service_env, trusted_proxies=hops)
    client = client_of(app, PROXY, "203.0.113.9")
    client.environ_base["HTTP_X_FORWARDED_PROTO"] = proto
    page = client.get("/p/renew")
    assert page.status_code == 200
    assert ("Strict-Transport-Security" in page.headers) is secure
    cookie = page.headers.get("Set-Cookie", "")
    assert cookie and ("Secure" in cookie) is secure, cookie
