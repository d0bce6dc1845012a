"""Every service has the same inside (the architecture's "Inside a service").

- ``store.py`` (or a ``store/`` package) is the only code touching the service's
  collections: no other module names ``.objects``, ``_get_collection(`` or
  ``get_db(``;
- ``bootstrap.py`` is the composition root: it exists and every part
  (``__main__``'s api, worker, scheduler, poller and the app factory) builds
  through it;
- views (``api/``) do not publish: no ``outbox`` or ``publish`` in them.

Every service has all three since the seventh session (issue 14).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("segments", "campaigns", "mailer", "listener")
TOUCHES_STORE = re.compile(r"\.objects\b|_get_collection\(|\bget_db\(")
PUBLISHES = re.compile(r"\boutbox\b|\.publish(_many|_envelopes)?\(|\bannounce\(")


def _modules(service: str):
    for path in sorted((ROOT / "services" / service).rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


def _is_store(name: str) -> bool:
    return name.endswith("/store.py") or "/store/" in name


def _code(text: str) -> str:
    """The text without comments and docstring lines, so prose may name things."""
    lines = []
    in_doc = False
    for line in text.splitlines():
        stripped = line.strip()
        quotes = stripped.count('"""')
        if in_doc or stripped.startswith('"""'):
            if (in_doc and quotes) or (not in_doc and quotes == 1):
                in_doc = not in_doc
            continue
        lines.append(line.split("#", 1)[0])
    return "\n".join(lines)


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_store_module_touches_collections(service):
    touching = {
        name for name, text in _modules(service) if not _is_store(name) and TOUCHES_STORE.search(_code(text))
    }
    assert touching == set(), "query through the service's store.py (or store/ package)"


@pytest.mark.parametrize("service", SERVICES)
def test_every_part_builds_through_the_composition_root(service):
    folder = ROOT / "services" / service
    assert (folder / "bootstrap.py").exists()
    for part in ("__main__.py", "app.py"):
        assert "bootstrap" in (folder / part).read_text(encoding="utf-8"), f"{service}/{part}"


@pytest.mark.parametrize("service", SERVICES)
def test_views_do_not_publish(service):
    publishing = {
        name for name, text in _modules(service) if "/api/" in name and PUBLISHES.search(_code(text))
    }
    assert publishing == set(), "publish from the domain, through the outbox"
