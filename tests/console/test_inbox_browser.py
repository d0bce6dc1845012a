"""The inbox a community manager works from, in headless Chromium against the real
listener and segments apis: newest post first within and across polls, a known
customer's mention links to the 360 view, the "known customers" filter, the charts'
colours and scales, and the Spanish of the alerts page and the timeline."""

from __future__ import annotations

import datetime

import pytest
import requests

from tests.console.conftest import Stack
from tests.console.test_browser import sign_in
from tests.support import CM_KEY

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NEG_RED = "rgb(198, 40, 40)"  # --neg in console.css, as the chips and the inbox use it


@pytest.fixture
def inbox_stack(service_env, segments_url) -> Stack:
    """The listener and segments apis, and the console as a process in front of them."""
    from devstack import procs

    closed = f"http://127.0.0.1:{procs.free_port()}"
    urls = {
        "segments": segments_url,
        "campaigns": closed,
        "mailer": closed,
        "listener": service_env.start_api("listener"),
    }
    stack = Stack(service_env, urls)
    urls["console"] = service_env.start_api("console", **stack.console_env())
    yield stack
    service_env.stop_all()


def poll(service_env, query_id: str, posts: list[tuple[str, str, str, datetime.datetime]]) -> None:
    """One poll's batch through the listener's own pipeline, in the order the source gave it."""
    from services.listener.announce import BatchPublisher
    from services.listener.models import DOCUMENTS, ListeningQuery
    from services.listener.pipeline import Pipeline
    from services.listener.sources.base import Post
    from shared import store

    store.connect(service_env.mongo_uri)
    store.ensure_indexes(*DOCUMENTS)
    query = ListeningQuery.objects(id=query_id).first()
    publisher = BatchPublisher(service_env.amqp_url, service_env.topology)
    try:
        Pipeline(publisher).ingest(
            query,
            [
                Post(
                    source="x",
                    post_id=pid,
                    text=text,
                    author_handle=handle,
                    posted_at=at,
                    url=f"https://x.com/{handle}/status/{pid}",
                )
                for pid, text, handle, at in posts
            ],
            server_matched=False,
        )
    finally:
        publisher.close()


def test_inbox_order_customer_link_filter_and_chart_scales(inbox_stack, browser, shots):
    from services.listener.models import AlertEpisode
    from shared.models import Customer, Interaction

    stack = inbox_stack
    customer = Customer(
        email="núria@ejemplo.es", first_name="Núria", last_name="Ibáñez", social={"x": "nuria_ib"}
    ).save()
    Interaction(
        customer_id=customer.id,
        kind="consent_changed",
        at=datetime.datetime(2026, 11, 2, 10, 0),
        key="consent:test",
        channel="email",
        summary="newsletter",
    ).save()
    answer = requests.post(
        f"{stack.urls['listener']}/queries",
        headers={"X-API-Key": CM_KEY},
        json={"name": "Café Luna", "keywords": ["cafeluna", "café luna"], "sources": ["x"]},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    query_id = answer.json()["id"]
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)
    hours = [now - datetime.timedelta(hours=h) for h in range(6)]
    # A source answers oldest first; the second poll brings a post older than the first poll's newest.
    poll(
        stack.env,
        query_id,
        [
            ("1", "Café Luna abre a las 8, ¿verdad?", "pepe", hours[5]),
            ("2", "Café Luna: me cobraron dos veces y nadie contesta", "nuria_ib", hours[3]),
        ],
    )
    poll(
        stack.env,
        query_id,
        [
            ("3", "Café Luna, el mejor cortado del barrio 😍", "lola", hours[4]),
            ("4", "Café Luna perdió mi pedido OTRA VEZ", "bea", hours[1]),
            ("5", "Lovely brunch at Café Luna, great staff!", "sam", hours[0]),
        ],
    )
    AlertEpisode(
        query_id=query_id,
        status="closed",
        opened_at=hours[2],
        closed_at=hours[1],
        negative_count=5,
        negative_share=0.5,
        baseline_share=0.1,
        webhook_status="none",
    ).save()

    page = sign_in(browser, stack.console, CM_KEY, "Carla")
    # The dashboard's new negative mentions: Núria's links to her 360 view.
    assert page.locator("a[data-customer]").count() == 1
    assert str(customer.id) in page.locator("a[data-customer]").get_attribute("href")
    page.goto(f"{stack.console}/listening/mentions")
    order = [page.locator("li.mention").nth(i).get_attribute("data-id") for i in range(5)]
    texts = [page.locator("li.mention p.text").nth(i).inner_text() for i in range(5)]
    assert [t.split()[0] for t in texts] == ["Lovely", "Café", "Café", "Café", "Café"]
    assert "OTRA VEZ" in texts[1] and "cobraron" in texts[2] and "cortado" in texts[3] and "8" in texts[4], (
        texts
    )
    assert len(set(order)) == 5

    # Only Núria is a known customer: her mention links to her 360 view, the others do not.
    assert page.locator("li.mention a[data-customer]").count() == 1
    assert page.locator('li.mention:has-text("cobraron") a[data-customer]').count() == 1
    shots(page, "inbox-newest-first")
    page.check("input[name=known]")
    page.click("form.filters-form button")
    assert page.locator("li.mention").count() == 1 and "cobraron" in page.inner_text("ul.mentions")
    assert page.is_checked("input[name=known]")
    known = page.locator('li.mention:has-text("cobraron")')
    known.locator("a[data-customer]").click()
    page.wait_for_url(f"**/customers/{customer.id}")
    assert "Núria" in page.inner_text("main")

    # The query page: negative in red, and mean sentiment on a -1..1 axis.
    page.goto(f"{stack.console}/listening/queries/{query_id}")
    volume, mean = page.locator("svg.chart").nth(0), page.locator("svg.chart").nth(1)
    negative_bar = volume.locator("rect.negative.fill").first
    assert negative_bar.evaluate("e => getComputedStyle(e).fill") == NEG_RED
    assert volume.locator("rect.positive.fill").first.evaluate("e => getComputedStyle(e).fill") != NEG_RED
    axis = [t.strip() for t in mean.locator("text.axis[text-anchor=end]").all_text_contents()]
    assert axis == ["-1", "0", "1"], axis
    # Two negatives, one neutral question, two positives today: the point sits where its mean is.
    day = requests.get(
        f"{stack.urls['listener']}/queries/{query_id}/stats", headers={"X-API-Key": CM_KEY}, timeout=10
    ).json()["days"]
    grid = [float(mean.locator("line.grid").nth(i).get_attribute("y1")) for i in range(3)]  # y of -1, 0, 1
    point = mean.locator("circle, polyline").first
    y = float(
        point.get_attribute("cy")
        if point.evaluate("e => e.tagName") == "circle"
        else point.get_attribute("points").split()[-1].split(",")[1]
    )
    expected = grid[0] + (grid[2] - grid[0]) * (day[-1]["mean_sentiment"] + 1) / 2
    assert abs(y - expected) < 0.2, (y, expected, grid)
    shots(page, "query-charts")

    # Spanish: the alerts page and the customer's timeline.
    page_es = sign_in(browser, stack.console, CM_KEY, "Carla", locale="es")
    page_es.goto(f"{stack.console}/listening/alerts")
    table = page_es.inner_text("table.list")
    assert "Abierta el" in table and "sin webhook" in table and "cerrada" in table, table
    assert "Abiertos" not in table and "none" not in table
    page_es.goto(f"{stack.console}/customers/{customer.id}")
    timeline = page_es.inner_text("ol.timeline")
    assert "cambio de consentimiento" in timeline and "consent_changed" not in timeline, timeline
    shots(page_es, "customer-timeline-es")
