"""Fixtures of the console tests: the real services as processes, the console
in front of them (as a process for the browser, in-process for the Flask
test client), and headless Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from devstack import inventory
from shared import store
from tests.support import ANALYST_KEY, ServiceEnv

CHROMIUM = os.environ.get("VINCULO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BACKENDS = [name for name in ("segments", "campaigns", "mailer", "listener") if name in inventory.services()]
SCREENSHOTS_FOR_README = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


class Stack:
    """The services' base URLs and the console's, all real processes."""

    def __init__(self, env: ServiceEnv, urls: dict[str, str]):
        self.env, self.urls = env, urls

    @property
    def console(self) -> str:
        return self.urls["console"]

    def console_env(self) -> dict:
        return {
            f"VINCULO_CONSOLE_{name.upper()}_URL": url for name, url in self.urls.items() if name != "console"
        }


def asks_the_mailer(service: str, urls: dict[str, str]) -> dict:
    """Where campaigns finds the mailer's API, and the key it uses there."""
    if service != "campaigns" or "mailer" not in urls:
        return {}
    return {"VINCULO_CAMPAIGNS_MAILER_URL": urls["mailer"], "VINCULO_CAMPAIGNS_MAILER_API_KEY": ANALYST_KEY}


def start_backends(
    service_env: ServiceEnv, parts: dict[str, list[str]] | None = None, **extra_env
) -> dict[str, str]:
    urls: dict[str, str] = {}
    # campaigns last: it asks the mailer (the owner of templates) about a campaign's templates
    for name in sorted(BACKENDS, key=lambda name: name == "campaigns"):
        urls[name] = service_env.start_api(name, **extra_env, **asks_the_mailer(name, urls))
    for name, names in (parts or {}).items():
        for part in names:
            service_env.start(name, part, **extra_env)
    return urls


@pytest.fixture
def smtp_server():
    from devstack.smtp import SmtpServer

    with SmtpServer() as server:
        yield server


@pytest.fixture
def stack(service_env, smtp_server) -> Stack:
    """Every service's api, the campaigns worker and scheduler, the mailer worker
    (delivering to a local SMTP server), and the console."""
    parts = {"campaigns": ["worker", "scheduler"], "mailer": ["worker"]}
    urls = start_backends(
        service_env,
        {name: p for name, p in parts.items() if name in BACKENDS},
        VINCULO_CAMPAIGNS_SCHEDULER_POLL_SECONDS="0.3",
        VINCULO_MAILER_SMTP_PORT=smtp_server.port,
        VINCULO_MAILER_QUIET_HOURS="",
        VINCULO_MAILER_FROM_ADDRESS="ofertas@tienda.example",
    )
    stack = Stack(service_env, urls)
    stack.smtp = smtp_server
    urls["console"] = service_env.start_api("console", **stack.console_env())
    yield stack
    service_env.stop_all()


@pytest.fixture
def listener_url(service_env) -> str:
    """The listener api alone: enough for sign-in (/whoami) and the listening pages."""
    url = service_env.start_api("listener")
    yield url
    service_env.stop_all()


def in_process_console(service_env, api_timeout: float = 5.0, **urls):
    """The console in-process (Flask test client) in front of the services in ``urls``
    (segments_url=..., ...); the others point at a closed port, so a page that needs
    them shows them unavailable."""
    from devstack import procs
    from services.console.app import create_app
    from services.console.settings import load

    closed = f"http://127.0.0.1:{procs.free_port()}"
    every = {f"{name}_url": closed for name in ("segments", "campaigns", "mailer", "listener")}
    app = create_app(service_env.settings(load, **{**every, **urls}, api_timeout=api_timeout))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def console_app(service_env, listener_url):
    """The console in-process in front of the real listener api."""
    return in_process_console(service_env, listener_url=listener_url)


@pytest.fixture
def segments_url(service_env) -> str:
    """The segments api and its worker (which runs the import and recompute jobs)."""
    url = service_env.start_api("segments")
    service_env.start("segments", "worker", VINCULO_SEGMENTS_JOB_POLL_SECONDS="0.2")
    yield url
    service_env.stop_all()


@pytest.fixture
def segments_console(service_env, segments_url):
    """The console in-process in front of the real segments api and worker (sign-in asks it too)."""
    return in_process_console(service_env, api_timeout=10.0, segments_url=segments_url)


@pytest.fixture
def segments_stack(service_env, segments_url) -> Stack:
    """The segments api and worker, and the console as a process in front of them (for the browser)."""
    from devstack import procs

    closed = f"http://127.0.0.1:{procs.free_port()}"
    urls = {"segments": segments_url, "campaigns": closed, "mailer": closed, "listener": closed}
    stack = Stack(service_env, urls)
    urls["console"] = service_env.start_api("console", **stack.console_env())
    yield stack
    service_env.stop_all()


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: the test command installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def shots(tmp_path):
    """Screenshot helper: shots(page, "name") writes tmp_path/screenshots/name.png."""
    folder = tmp_path / "screenshots"
    folder.mkdir()

    def take(page, name: str, readme: bool = False) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if readme and os.environ.get("VINCULO_UPDATE_SCREENSHOTS"):
            SCREENSHOTS_FOR_README.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, SCREENSHOTS_FOR_README / path.name)
        return path

    take.folder = folder
    return take


def sideways(page) -> list[str]:
    """What sticks out past a phone's screen once the page has loaded (its stylesheet
    applied: measured earlier, an unstyled page overflows), as 'TAG.class right-edge
    text'; empty when nothing scrolls sideways."""
    page.wait_for_load_state("load")
    return page.evaluate(
        """() => document.documentElement.scrollWidth <= window.innerWidth + 1 ? [] :
        Array.from(document.querySelectorAll('body *'))
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 8)
            .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)
                 + ' ' + (e.textContent || '').trim().slice(0, 60))"""
    )


def seed_audience(stack: Stack, count: int = 30, locale: str = "es") -> tuple[str, str]:
    """Customers and a segment written to the store (the segments API is not on this branch
    yet, as tests/campaigns does), and a real e-mail template through the mailer's API."""
    import requests
    from bson import json_util

    from shared.models import Segment
    from tests.support import MARKETER_KEY

    store.connect(stack.env.mongo_uri)
    from shared.models import Customer

    ids = (
        Customer._get_collection()
        .insert_many(
            [
                {
                    "email": f"cliente{i}@example.com",
                    "first_name": f"Ana{i}",
                    "locale": locale,
                    "erased": False,
                }
                for i in range(count)
            ]
        )
        .inserted_ids
    )
    for customer_id in ids:  # consent through the mailer's ledger, so the sends really go out
        granted = requests.post(
            f"{stack.urls['mailer']}/customers/{customer_id}/consents",
            headers={"X-API-Key": MARKETER_KEY},
            timeout=10,
            json={"channel": "email", "topic": "newsletter", "status": "granted"},
        )
        assert granted.status_code in (200, 201), granted.text
    segment = Segment(name="Clientes ES", kind="dynamic", compiled=json_util.dumps({"locale": locale})).save()
    answer = requests.post(
        f"{stack.urls['mailer']}/templates",
        headers={"X-API-Key": MARKETER_KEY},
        json={
            "name": "Bienvenida",
            "channel": "email",
            "variants": {
                "es": {
                    "subject": "Hola {{ first_name }}",
                    "text": "Hola {{ first_name }}, bienvenida.",
                    "html": "<p>Hola {{ first_name }}, bienvenida.</p>",
                }
            },
        },
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return str(segment.id), answer.json()["id"]
