"""The client's address behind reverse proxies (``VINCULO_TRUSTED_PROXIES``).

Behind nginx or a load balancer every request comes from the proxy, so throttles keyed by
``request.remote_addr`` would count every client as one and consent proofs would record the
proxy. With ``hops`` proxies trusted, Werkzeug's ProxyFix takes the address the outermost of
them saw: the ``hops``-th value from the right of ``X-Forwarded-For`` (each proxy appends
the address it was called from; whatever the client wrote comes before and is ignored).
With 0, the default, the header is never read: without a proxy in front, a client could
write any address there.

The same hop's ``X-Forwarded-Proto`` says whether the client came over HTTPS (a proxy that
ends TLS calls the app over plain HTTP): the preference pages then send HSTS and mark their
form cookie Secure, as they do when served over HTTPS directly. Only ``http`` and ``https``
are taken.

A forwarded value that is not an IP address (a proxy that passes the client's header on
unchecked, garbage, ``unknown``) leaves the peer's address, so what the throttles and the
consent ledger key by is always an address, never text a client chose.
"""

from __future__ import annotations

import ipaddress

from werkzeug.middleware.proxy_fix import ProxyFix


def trust_proxies(app, hops: int) -> None:
    """Read the client's address from ``hops`` trusted proxies' X-Forwarded-For (0: never)."""
    if hops > 0:
        app.wsgi_app = ProxyFix(_OnlyAddresses(app.wsgi_app), x_for=hops, x_proto=hops)


def address(value: str) -> str | None:
    """``value`` as a normalised IP address (a port or IPv6 brackets dropped), None if none."""
    value = value.strip()
    if value.startswith("["):  # [2001:db8::1] or [2001:db8::1]:443
        value, closed, port = value[1:].partition("]")
        if not closed or (port and not port.startswith(":")):
            return None
    elif value.count(":") == 1:  # 203.0.113.7:443 (an IPv6 address has two or more)
        value = value.partition(":")[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


class _OnlyAddresses:
    """Inside ProxyFix: keeps the forwarded address only when it is one, and the forwarded
    scheme only when it is http or https."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        peer = (environ.get("werkzeug.proxy_fix.orig") or {}).get("REMOTE_ADDR")
        forwarded = environ.get("REMOTE_ADDR")
        if forwarded != peer:
            environ["REMOTE_ADDR"] = address(forwarded or "") or peer
        scheme = environ.get("wsgi.url_scheme")
        if scheme not in ("http", "https"):
            lowered = str(scheme or "").strip().lower()
            original = (environ.get("werkzeug.proxy_fix.orig") or {}).get("wsgi.url_scheme", "http")
            environ["wsgi.url_scheme"] = lowered if lowered in ("http", "https") else original
        return self.app(environ, start_response)
