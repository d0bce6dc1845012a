"""The one HTTP client for URLs that users give us (feeds, webhooks, any later one).

A URL typed by a user must not reach into our own network (SSRF) nor take a
process's memory or time. Every request here:

* takes only ``http`` and ``https`` URLs;
* resolves the host once, refuses it when any of its addresses is loopback,
  private, link-local, multicast, reserved, shared (100.64/10) or otherwise not
  public, IPv4 and IPv6 (IPv4-mapped IPv6 included), and then connects to the
  checked address itself (the ``Host`` header and TLS name stay the host's),
  so a DNS answer that changes between the check and the connection (DNS
  rebinding) cannot move it;
* follows redirects itself, at most ``max_redirects``, checking every hop
  the same way (webhooks follow none);
* reads the body as a stream and stops past ``max_bytes`` (decompressed
  size), with a connect/read timeout and a deadline for the whole exchange;
* fails with ``OutboundError`` whose message is ours (status code, address
  refused, too large, timed out): never the remote body, so what an internal
  service answered cannot be read back through a query's status.

``allow_private`` (the setting ``VINCULO_ALLOW_PRIVATE_URLS``, off by default)
lets local development and tests reach servers on 127.0.0.1.

Built on urllib3 (already here under requests): the maintained SSRF wrappers
(advocate) do not support urllib3 2, and connecting to a pinned address with
the right TLS name is a few lines with urllib3's connection pools.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError, NewConnectionError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

SCHEMES = ("http", "https")
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
REDIRECTS = (301, 302, 303, 307, 308)
USER_AGENT = "vinculo/0.1 (+https://github.com/vinculo)"


class OutboundError(Exception):
    """The request failed; the message is safe to store and show (no remote content)."""


class OutboundRefused(OutboundError):
    """The URL or the address it resolves to is not allowed."""


@dataclass
class Response:
    status: int
    headers: dict = field(default_factory=dict)  # lower-cased names
    content: bytes = b""
    url: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def address_refusal(address: str) -> str | None:
    """Why ``address`` (an IP literal) is not a public address, or None when it is."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind in ("loopback", "private", "link_local", "multicast", "reserved", "unspecified"):
        if getattr(ip, f"is_{kind}"):
            return f"{kind.replace('_', '-')} address"
    if not ip.is_global:
        return "non-public address"
    return None


def literal_host_refusal(url: str) -> str | None:
    """For the API edge: why a URL whose host is an IP literal (or ``localhost``) is refused.

    Host names are only resolved when a request is made (their answer may
    change); this catches what is visibly internal at once.
    """
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return "localhost is not a public address"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    reason = address_refusal(host)
    return f"{host} is a {reason}" if reason else None


class Outbound:
    """A guarded client; one per process is enough (it holds no connections between requests)."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        allow_addresses=(),
        timeout: float = 10.0,
        deadline: float = 30.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_redirects: int = 5,
        user_agent: str = USER_AGENT,
        ca_file: str | None = None,
    ):
        self.allow_private = allow_private
        # Exact internal addresses let through while the rest stay refused (one known
        # internal host, rather than every private address).
        self.allow_addresses = frozenset(allow_addresses)
        self.timeout = timeout
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        # certifi's roots, or another CA bundle (a private CA; tests' local TLS servers)
        self._tls = ssl.create_default_context(cafile=ca_file or certifi.where())

    # public ------------------------------------------------------------------

    def get(self, url: str, headers: dict | None = None) -> Response:
        return self.request("GET", url, headers=headers, follow=True)

    def post_json(self, url: str, payload, headers: dict | None = None) -> Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return self.request(
            "POST",
            url,
            body=body,
            follow=False,
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: dict | None = None,
        follow: bool = True,
    ) -> Response:
        ends_at = time.monotonic() + self.deadline
        hops = self.max_redirects if follow else 0
        for _ in range(hops + 1):
            response = self._once(method, url, body, headers or {}, ends_at)
            location = response.headers.get("location")
            if not (follow and response.status in REDIRECTS and location):
                return response
            url = urljoin(url, location)
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, body = "GET", None
        raise OutboundError(f"more than {self.max_redirects} redirects")

    # one hop -----------------------------------------------------------------

    def check_url(self, url: str) -> tuple[str, str, int]:
        """(scheme, host, port) of an allowed URL, or OutboundRefused."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise OutboundRefused("not a valid URL") from None
        if parts.scheme not in SCHEMES:
            raise OutboundRefused(f"scheme {parts.scheme or '(none)'!r} is not allowed (http, https only)")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise OutboundRefused("the URL has no host")
        if not host.isascii():
            try:
                host = host.encode("idna").decode()
            except UnicodeError:
                raise OutboundRefused("the URL's host is not a valid name") from None
        return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)

    def resolve(self, host: str, port: int) -> str:
        """The address to connect to, checked: every address the name has must be public."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise OutboundError(f"host {host} could not be resolved") from None
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        if not addresses:
            raise OutboundError(f"host {host} could not be resolved")
        if not self.allow_private:
            for address in addresses:
                if address in self.allow_addresses:
                    continue
                reason = address_refusal(address.split("%")[0])
                if reason:
                    raise OutboundRefused(f"{host} resolves to {address}, a {reason}: not allowed")
        return addresses[0]

    def _pool(self, scheme: str, host: str, address: str, port: int):
        timeout = urllib3.Timeout(connect=self.timeout, read=self.timeout)
        if scheme == "https":
            return urllib3.HTTPSConnectionPool(
                address,
                port,
                timeout=timeout,
                retries=False,
                maxsize=1,
                ssl_context=self._tls,
                server_hostname=host,
                assert_hostname=host,
            )
        return urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1)

    def _once(self, method: str, url: str, body, headers: dict, ends_at: float) -> Response:
        scheme, host, port = self.check_url(url)
        address = self.resolve(host, port)
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = 443 if scheme == "https" else 80
        host_header = f"[{host}]" if ":" in host else host
        sent = {
            "User-Agent": self.user_agent,
            "Accept-Encoding": "gzip, deflate",
            "Host": host_header if port == default_port else f"{host_header}:{port}",
            **headers,
        }
        pool = self._pool(scheme, host, address, port)
        try:
            raw = pool.urlopen(
                method,
                path,
                body=body,
                headers=sent,
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
            try:
                content = self._read(raw, ends_at)
                return Response(raw.status, {k.lower(): v for k, v in raw.headers.items()}, content, url)
            finally:
                raw.release_conn()
        except OutboundError:
            raise
        except (NewConnectionError, MaxRetryError, ConnectionError):  # NewConnectionError is also a timeout
            raise OutboundError(f"could not connect to {host}:{port}") from None
        except (TimeoutError, Urllib3Timeout):
            raise OutboundError(f"{host} did not answer within {self.timeout:g} s") from None
        except SSLError:
            raise OutboundError(f"TLS with {host} failed") from None
        except (Urllib3Error, OSError) as exc:
            raise OutboundError(f"request to {host} failed ({type(exc).__name__})") from None
        finally:
            pool.close()

    def _read(self, raw, ends_at: float) -> bytes:
        length = raw.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > self.max_bytes:
            raise OutboundError(f"answer larger than {self.max_bytes} bytes (Content-Length {length})")
        chunks, size = [], 0
        for chunk in raw.stream(64 * 1024, decode_content=True):
            size += len(chunk)
            if size > self.max_bytes:
                raise OutboundError(f"answer larger than {self.max_bytes} bytes: stopped reading")
            if time.monotonic() > ends_at:
                raise OutboundError(f"answer took longer than {self.deadline:g} s: stopped reading")
            chunks.append(chunk)
        return b"".join(chunks)
