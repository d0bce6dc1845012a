"""Links the console renders from data: one filter for every ``href`` that is not a ``url_for``.

``{{ m.url|link_target }}`` answers the URL when it is an absolute http(s)
URL with a host, or a path inside the console (``/listening/...``), and None
otherwise, so a template writes ``<a href>`` only for something safe to
follow. A post's ``javascript:alert(1)``, a ``data:`` URL, ``//evil.example``
or a URL with control characters never becomes a link: it is shown as text or
not at all. The CSP would stop a script; this keeps the link from existing.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import url_for

MAX_LENGTH = 2048


def link_target(value, local_only: bool = False) -> str | None:
    """``value`` if it is safe as an ``href`` (http(s) with a host, or a console path), else None.
    ``local_only``: console paths only (a "Back" or "Cancel" link)."""
    if not isinstance(value, str) or not value or len(value) > MAX_LENGTH:
        return None
    if any(ord(ch) < 0x21 or 0x7F <= ord(ch) <= 0x9F or ch == "\\" for ch in value):
        return None  # browsers drop or reinterpret these ("java\tscript:", "/\\evil.example")
    if value.startswith("/") and not value.startswith("//"):
        return value
    if local_only:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.hostname:
        return value
    return None


def init_app(app) -> None:
    app.jinja_env.filters["link_target"] = link_target


def safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect to another host after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return url_for("dashboard.index")
    return target
