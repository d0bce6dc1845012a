"""The issue's scenarios in headless Chromium against the real services.

Each test starts the services' apis (and the campaigns worker and scheduler)
as processes, the console as a process in front of them, and drives the
pages as a person would. Screenshots of every page go to the test's tmp
folder (and to docs/screenshots/ with VINCULO_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import json
import re

import pytest
import requests
from playwright.sync_api import Error as PlaywrightError

from tests.console.conftest import seed_audience
from tests.support import ANALYST_KEY, CM_KEY, MARKETER_KEY, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def sign_in(browser, console: str, key: str, name: str, locale: str = "en", viewport=(1280, 900)):
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    page.goto(f"{console}/sign-in")
    if locale == "en":
        page.click("button[name=locale][value=en]")
    page.fill("input[name=name]", name)
    page.fill("input[name=api_key]", key)
    page.press("input[name=api_key]", "Enter")
    page.wait_for_url(re.compile(r".*/dashboard$"))
    return page


# What Chromium says when a reload loses the race with a navigation the page started itself.
NAVIGATION_RACES = (
    "Not attached to an active page",
    "interrupted by another navigation",
    "Execution context was destroyed",
    "net::ERR_ABORTED",
)


def text_after_reload(page, selector: str) -> str | None:
    """The element's text on a fresh load of the page, or None when the reload lost a race.

    Pages that follow progress reload themselves when a state changes (the
    campaign page when sending ends); a reload the test asks for at the same
    moment is then abandoned by Chromium. That one is retried by the caller's
    wait, any other error is raised.
    """
    try:
        page.reload()
        return page.inner_text(selector)
    except PlaywrightError as exc:
        if any(race in str(exc) for race in NAVIGATION_RACES):
            return None
        raise


def test_marketer_creates_schedules_and_watches_a_campaign(stack, browser, shots, mongo_uri):
    segment_id, template_id = seed_audience(stack, count=40)
    page = sign_in(browser, stack.console, MARKETER_KEY, "Marta")
    shots(page, "dashboard", readme=True)
    page.click("nav.main >> text=Campaigns")
    page.click("text=New campaign")

    # A field error from the service shows next to its field.
    page.fill("input[name=name]", "Rebajas de invierno")
    page.select_option("select[name=segment_id]", label="Clientes ES")  # by name
    page.select_option("select[name=template_id]", label="Bienvenida")
    page.check("input[name=schedule_kind][value=cron]")
    page.fill("input[name=cron]", "0 9 * * 1")
    page.fill("input[name=time_zone]", "Europe/Nowhere")
    page.click("form#campaign-form button.primary")
    error = page.locator('.field-error[data-field="schedule.time_zone"]')
    assert error.count() == 1 and error.inner_text()
    shots(page, "campaign-form-error")

    page.fill("input[name=time_zone]", "Europe/Madrid")
    page.click("form#campaign-form button.primary")
    page.wait_for_url(re.compile(r".*/campaigns/[0-9a-f]{24}$"))
    body = page.inner_text("main")
    assert "at 09:00, on Monday" in body and "Europe/Madrid" in body
    # The segment and template by name, each a link to its page.
    assert page.get_attribute(f"a[title='{segment_id}']", "href").endswith(f"/segments/{segment_id}")
    assert page.inner_text(f"a[title='{segment_id}']") == "Clientes ES"
    assert page.inner_text(f"a[title='{template_id}']") == "Bienvenida"
    assert page.locator("ol.runs li").count() == 5
    shots(page, "campaign-cron")

    # Switch to sending now, schedule, and watch it finish.
    campaign_url = page.url
    page.click("text=Edit")
    page.check("input[name=schedule_kind][value=now]")
    page.click("form#campaign-form button.primary")
    page.wait_for_url(campaign_url)
    with page.expect_navigation():
        page.click("button[value=schedule]")
    wait_until(
        lambda: text_after_reload(page, "#state") == "sent",
        timeout=60,
        interval=0.5,
        what="the campaign to be sent",
    )
    # The mailer's worker delivers to the local SMTP server; the page shows it as it goes.
    wait_until(
        lambda: text_after_reload(page, '#progress [data-k="sent"]') == "40",
        timeout=90,
        interval=0.5,
        what="the 40 e-mails to be sent",
    )
    assert len(stack.smtp.mailbox.snapshot()) == 40
    chart = page.locator("svg.chart").first  # sends / opens / clicks over time
    assert "50" in chart.locator("text.axis").all_text_contents()  # the scale holds the 40 sends
    shots(page, "campaign-sent", readme=True)
    assert page.locator("button[value=resend-failed]").count() == 0  # nothing failed: nothing to resend

    page.goto(f"{stack.console}/campaigns")
    assert "Rebajas de invierno" in page.inner_text("table.list")
    shots(page, "campaigns")


def test_a_destructive_action_asks_first(stack, browser, mongo_uri):
    segment_id, template_id = seed_audience(stack, count=1)
    created = requests.post(
        f"{stack.urls['campaigns']}/campaigns",
        headers={"X-API-Key": MARKETER_KEY},
        json={
            "name": "Para cancelar",
            "channel": "email",
            "topic": "newsletter",
            "segment_id": segment_id,
            "template_id": template_id,
        },
        timeout=10,
    ).json()
    page = sign_in(browser, stack.console, MARKETER_KEY, "Marta")
    page.goto(f"{stack.console}/campaigns/{created['id']}")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("button[value=cancel]")
    assert page.inner_text("#state") == "draft"
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button[value=cancel]")
    page.wait_for_load_state()
    wait_until(lambda: page.inner_text("#state") == "cancelled", what="the campaign to be cancelled")


def ingest(service_env, query_id: str, post_id: str, text: str, handle: str):
    """A post through the listener's own pipeline (language, sentiment, store, events), as the poller does."""
    import datetime

    from services.listener.announce import BatchPublisher
    from services.listener.models import DOCUMENTS, ListeningQuery
    from services.listener.pipeline import Pipeline
    from services.listener.sources.base import Post
    from shared import store

    store.connect(service_env.mongo_uri)
    store.ensure_indexes(*DOCUMENTS)
    query = ListeningQuery.objects(id=query_id).first()
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    publisher = BatchPublisher(service_env.amqp_url, service_env.topology)
    try:
        Pipeline(publisher).ingest(
            query,
            [
                Post(
                    source="x",
                    post_id=post_id,
                    text=text,
                    author_handle=handle,
                    posted_at=now,
                    url=f"https://x.com/{handle}/status/{post_id}",
                )
            ],
            server_matched=False,
        )
    finally:
        publisher.close()


def make_query(stack) -> str:
    answer = requests.post(
        f"{stack.urls['listener']}/queries",
        headers={"X-API-Key": CM_KEY},
        json={"name": "Café Luna", "keywords": ["cafeluna", "café luna"], "sources": ["x"]},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_community_manager_sees_a_negative_mention_arrive_corrects_and_resolves_it(stack, browser, shots):
    query_id = make_query(stack)
    ingest(stack.env, query_id, "100", "Lovely coffee at Café Luna this morning, great staff!", "happy_ana")
    page = sign_in(browser, stack.console, CM_KEY, "Carla", viewport=(1024, 1366))  # a tablet, upright
    page.goto(f"{stack.console}/listening/mentions")
    assert page.locator("li.mention").count() == 1

    # A negative mention arrives while the page is open: it appears without a reload.
    ingest(
        stack.env,
        query_id,
        "101",
        "Café Luna was awful today. Terrible service, rude staff, never again.",
        "angry_bob",
    )
    arrived = page.locator('li.mention.negative:has-text("Terrible service")')
    arrived.wait_for(timeout=30000)
    assert page.locator("li.mention").count() == 2 and "1 new" in page.inner_text("#fresh")
    shots(page, "mentions-inbox", readme=True)

    # Correct its sentiment with one click, then resolve it.
    arrived.locator("button[value=neutral]").click()
    corrected = page.locator('li.mention:has-text("Terrible service")')
    wait_until(lambda: "corrected by Carla" in corrected.inner_text(), what="the correction to show")
    assert "neutral" in corrected.locator("[data-label]").inner_text()
    corrected.locator("text=Resolve").click()
    wait_until(
        lambda: (
            "resolved" in page.locator('li.mention:has-text("Terrible service") [data-status]').inner_text()
        ),
        what="the mention to be resolved",
    )
    mention = requests.get(
        f"{stack.urls['listener']}/mentions",
        headers={"X-API-Key": CM_KEY},
        params={"status": "resolved"},
        timeout=10,
    ).json()["items"]
    assert [m["post_id"] for m in mention] == ["101"]
    assert mention[0]["correction"]["label"] == "neutral" and mention[0]["resolved_by"] == "Carla"

    # The filter keeps to what is asked, and the query page charts the day.
    page.select_option("select[name=label]", "positive")
    page.click("form.filters-form button")
    assert page.locator("li.mention").count() == 1 and "happy_ana" in page.inner_text("ul.mentions")
    page.goto(f"{stack.console}/listening/queries/{query_id}")
    assert page.locator("svg.chart").count() == 2
    shots(page, "listening-query")


def test_an_analyst_sees_personal_data_masked_and_no_triage_buttons(stack, browser, shots):
    query_id = make_query(stack)
    ingest(stack.env, query_id, "200", "Café Luna's new menu is great", "maria_lopez")
    page = sign_in(browser, stack.console, ANALYST_KEY, "Ana", locale="es")
    page.goto(f"{stack.console}/listening/mentions")
    author = page.inner_text("li.mention [data-author]")
    assert author == "m***", author
    assert "maria_lopez" not in page.content()
    assert page.locator(".triage").count() == 0
    assert "Menciones" in page.inner_text("nav.main") and "Campañas" in page.inner_text("nav.main")
    shots(page, "analyst-mentions")


def test_marketer_writes_a_spanish_template_sees_the_error_at_its_line_and_previews_it(stack, browser, shots):
    page = sign_in(browser, stack.console, MARKETER_KEY, "Marta")
    page.click("nav.main >> text=Templates")
    page.click("text=New e-mail template")
    page.fill("input[name=name]", "Bienvenida")
    page.fill("input[name=es_subject]", "Hola {{ first_name }}")
    page.fill("textarea[name=es_text]", "Hola {{ first_name }}:\nTu código es {{ codigo_secreto }}.\nGracias")
    page.fill("textarea[name=es_html]", "<p>Hola {{ first_name }}</p>")
    page.click("#template-form button.primary")
    error = page.locator('.field-error[data-field="variants.es.text"]')
    assert "line 2" in error.inner_text() and "codigo_secreto" in error.inner_text()
    assert page.locator("ol.source li.bad").get_attribute("data-line") == "2"
    shots(page, "template-error")

    page.fill("textarea[name=es_text]", "Hola {{ first_name }}:\nBienvenida a la tienda.")
    page.fill("input[name=en_subject]", "Hi {{ first_name }}")
    page.fill("textarea[name=en_text]", "Hi {{ first_name }}, welcome.")
    page.click("#template-form button.primary")
    page.wait_for_url(re.compile(r".*/templates/[0-9a-f]{24}$"))
    store_customer = stack.env  # a customer to preview for
    from shared import store
    from shared.models import Customer

    store.connect(store_customer.mongo_uri)
    customer_id = (
        Customer._get_collection()
        .insert_one({"email": "lucia@example.com", "first_name": "Lucía", "locale": "es", "erased": False})
        .inserted_id
    )
    page.fill("input[name=customer_id]", str(customer_id))
    page.click("form[data-autosubmit] button")
    assert page.inner_text("#preview-subject") == "Hola Lucía"
    assert page.inner_text("#preview-locale") == "es"
    assert "Bienvenida a la tienda" in page.inner_text("#preview-text")
    page.select_option("select[name=locale]", "en")  # the script submits on change
    page.wait_for_url(re.compile(r".*locale=en.*"))
    assert page.inner_text("#preview-subject") == "Hi Lucía"
    shots(page, "template-preview", readme=True)

    # Test send to the local SMTP server.
    page.fill("input[name=to]", "prueba@example.com")
    page.click("text=Send a test")
    assert "Sent to prueba@example.com" in page.inner_text("main")
    wait_until(lambda: stack.smtp.mailbox.to("prueba@example.com"), what="the test e-mail")


def test_the_sms_editor_counts_segments_as_you_type(stack, browser):
    page = sign_in(browser, stack.console, MARKETER_KEY, "Marta")
    page.goto(f"{stack.console}/templates/new?channel=sms")
    page.fill("textarea[name=es_text]", "a" * 161)
    assert page.inner_text('.sms-count[data-for="es_text"]').startswith("2 SMS · 161 · GSM-7")
    page.fill("textarea[name=es_text]", "Hola 😀")
    assert page.inner_text('.sms-count[data-for="es_text"]').endswith("UCS-2")
    page.fill("input[name=name]", "Aviso")
    page.fill("textarea[name=es_text]", "Hola {{ first_name }}, tu pedido ha salido.")
    page.click("#template-form button.primary")
    page.wait_for_url(re.compile(r".*/templates/[0-9a-f]{24}$"))
    assert "1 segment(s)" in page.inner_text("#sms-info")


def test_an_analyst_sees_masked_email_addresses_in_customers_and_the_360_view(stack, browser, shots):
    created = []
    for email, first, last in (
        ("lucia.garcia@example.com", "Lucía", "García"),
        ("lucas.nunez@example.com", "Lucas", "Núñez"),
    ):
        answer = requests.post(
            f"{stack.urls['segments']}/customers",
            headers={"X-API-Key": MARKETER_KEY},
            json={"email": email, "first_name": first, "last_name": last, "locale": "es", "country": "ES"},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        created.append(answer.json()["id"])
    requests.post(
        f"{stack.urls['mailer']}/customers/{created[0]}/consents",
        headers={"X-API-Key": MARKETER_KEY},
        json={"channel": "email", "topic": "newsletter", "status": "granted"},
        timeout=10,
    )

    marketer = sign_in(browser, stack.console, MARKETER_KEY, "Marta")
    marketer.goto(f"{stack.console}/customers?name=luc")
    assert "lucia.garcia@example.com" in marketer.inner_text("#customers")

    page = sign_in(browser, stack.console, ANALYST_KEY, "Ana")
    page.click("nav.main >> text=Customers")
    page.fill("input[name=name]", "LUC")  # accents and case do not matter
    page.click("form.filters-form button.primary")
    emails = page.locator("#customers [data-email]").all_inner_texts()
    assert sorted(emails) == ["l***@example.com", "l***@example.com"], emails
    assert "garcia" not in page.content() and "García" not in page.content()
    shots(page, "customers-analyst")
    page.click("#customers a >> nth=0")
    assert page.inner_text("[data-email]") == "l***@example.com"
    shots(page, "customer-360")


def test_a_marketer_imports_a_file_and_sees_the_report(segments_stack, browser, shots, tmp_path):
    from tests.console.test_imports_segments import CSV

    path = tmp_path / "clientes.csv"
    path.write_text(
        CSV
        + "".join(f"persona{i}@example.com,P{i},X,ES,Madrid\n" for i in range(20))
        + "otra@example.com,Otra,Y,ESP,Madrid\n"
    )  # line 26: a three-letter country
    page = sign_in(browser, segments_stack.console, MARKETER_KEY, "Marta")
    page.click("nav.main >> text=Imports")
    page.set_input_files("input[name=file]", str(path))
    page.click("#import-form button.primary")
    page.wait_for_url(re.compile(r".*/imports/[0-9a-f]{24}$"))
    page.click("#mapping-start")  # the columns as proposed
    page.locator("#rejections").wait_for(timeout=60000)  # the script reloads the page when the job ends
    rows = page.locator("#rejections tr:not(.warning) [data-row]").all_inner_texts()
    assert rows == ["3", "5", "26"], rows
    assert "email" in page.inner_text("#rejections") and page.inner_text('[data-k="created"]') == "22"
    assert page.inner_text("#import-state") == "done"
    shots(page, "import-report", readme=True)
    with page.expect_download() as download:
        page.click("text=Download the report (CSV)")
    report = open(download.value.path(), encoding="utf-8").read().splitlines()
    assert report[0] == "row,field,reason,skipped,warning"
    assert len([line for line in report[1:] if line.endswith(",no")]) == 3  # the rest: time zones guessed
    page.click("text=All imports")
    assert "clientes.csv" in page.inner_text("#imports")


def test_a_marketer_builds_a_segment_and_sees_its_count_change(segments_stack, browser, shots):
    from tests.console.test_imports_segments import add_customers

    add_customers(
        segments_stack.urls["segments"],
        [
            ("ana@example.com", "Ana", "ES"),
            ("bea@example.com", "Bea", "ES"),
            ("carlos@example.com", "Carlos", "ES"),
            ("dora@example.com", "Dora", "PT"),
            ("caro@example.com", "Carolina", "PT"),
        ],
    )
    page = sign_in(browser, segments_stack.console, MARKETER_KEY, "Marta")
    page.click("nav.main >> text=Segments")
    page.click("text=New segment")
    count = page.locator("#segment-count")

    def shows(number: str):
        wait_until(lambda: count.inner_text() == number, what=f"the count to be {number}")

    shows("3")  # the starting rule: country is ES
    first = page.locator('.rule-node[data-path="rule.all.0"]')
    first.locator("input[data-role=value]").fill("PT")
    shows("2")
    assert '"PT"' in page.input_value("#rule-json")

    page.click('.rule-node[data-path="rule"] >> css=button[data-action="add-condition"] >> nth=0')
    second = page.locator('.rule-node[data-path="rule.all.1"]')
    second.locator(".field-error").wait_for()  # an empty value: the API's error shows at this node
    assert "non-empty" in second.locator(".field-error").inner_text()
    second.locator("select[data-role=field]").select_option("first_name")
    second = page.locator('.rule-node[data-path="rule.all.1"]')
    second.locator("select[data-role=op]").select_option("starts_with")
    page.locator('.rule-node[data-path="rule.all.1"] input[data-role=value]').fill("car")
    shows("1")
    assert page.locator("#segment-sample tbody tr").all_inner_texts()[0].startswith("Carolina")
    assert page.locator(".rule-node .field-error").count() == 0
    shots(page, "segment-builder", readme=True)

    # Editing the JSON rebuilds the builder (and a broken JSON says so, leaving the builder alone).
    assert not page.is_visible("#rule-json")  # the JSON is the advanced view, folded away
    page.click("#rule-json-view summary")
    page.fill("#rule-json", '{"any": [')
    assert "Not valid JSON" in page.inner_text("#rule-json-error")
    page.fill("#rule-json", '{"any": [{"field": "country", "op": "in", "value": ["ES", "PT"]}]}')
    shows("5")
    assert page.locator('.rule-node[data-path="rule.any.0"] select[data-role=op]').input_value() == "in"
    assert page.locator('.rule-node[data-path="rule"] select[data-role=group]').input_value() == "any"

    page.fill("input[name=name]", "Iberia")
    page.click("button[value=save]")
    page.wait_for_url(re.compile(r".*/segments/[0-9a-f]{24}$"))
    wait_until(
        lambda: text_after_reload(page, "#member-count") == "5",
        timeout=60,
        interval=0.5,
        what="the segment to be filled",
    )
    shots(page, "segment-detail")


def test_every_kind_of_condition_the_builder_makes_is_a_rule_the_api_accepts(segments_stack, browser):
    from tests.console.test_imports_segments import add_customers

    add_customers(segments_stack.urls["segments"], [("ana@example.com", "Ana", "ES")])
    page = sign_in(browser, segments_stack.console, MARKETER_KEY, "Marta")
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{segments_stack.console}/segments/new")
    count = page.locator("#segment-count")
    wait_until(lambda: count.inner_text() == "1", what="the first count")
    node = '.rule-node[data-path="rule.all.0"]'

    def accepted(expected: str | None = None):
        """The API counted the rule (no error at any node)."""
        wait_until(
            lambda: (
                count.inner_text() not in ("—", "Counting…")
                and (expected is None or count.inner_text() == expected)
            ),
            what="a count",
        )
        assert page.locator(".rule-node .field-error").count() == 0, page.inner_text("#rule-builder")
        return json.loads(page.input_value("#rule-json"))["all"][0]

    for kind, shape in (
        ("near", "near"),
        ("campaign", "campaign"),
        ("mention", "mention"),
        ("purchases", "purchases"),
        ("consent", "consent"),
    ):
        page.select_option(f"{node} select[data-role=kind]", kind)
        assert shape in accepted("0")
    page.select_option(f"{node} select[data-role=kind]", "field")
    page.select_option(f"{node} select[data-role=field]", "created_at")
    page.select_option(f"{node} select[data-role=op]", "within_last")
    page.fill(f"{node} input[data-role=amount]", "30")
    assert accepted("1") == {"field": "created_at", "op": "within_last", "value": {"days": 30}}
    page.select_option(f"{node} select[data-role=op]", "lt")
    page.select_option(f"{node} select[data-role=mode]", "ago")
    page.fill(f"{node} input[data-role=amount]", "2")
    page.select_option(f"{node} select[data-role=unit]", "weeks")
    assert accepted("0") == {"field": "created_at", "op": "lt", "value": {"ago": {"weeks": 2}}}
    page.select_option(f"{node} select[data-role=op]", "between")  # the low end keeps "2 weeks ago"
    assert page.locator(f"{node} select[data-role=mode]").nth(0).input_value() == "ago"
    page.locator(f"{node} select[data-role=mode]").nth(0).select_option("date")
    page.locator(f"{node} input[data-role=date]").nth(0).fill("2020-01-01")
    page.locator(f"{node} input[data-role=date]").nth(1).fill("2099-12-31")
    assert accepted("1")["value"] == ["2020-01-01", "2099-12-31"]
    page.select_option(f"{node} select[data-role=field]", "purchases.count")
    page.select_option(f"{node} select[data-role=op]", "gte")
    page.fill(f"{node} input[data-role=value]", "1")
    assert accepted("0")["value"] == 1
    page.select_option(f"{node} select[data-role=field]", "attributes.")
    page.fill(f"{node} input[data-role=attribute]", "plan")
    # An attribute's value that reads as a number is sent as one; a code with a leading zero or
    # a plus sign (a postal code, a phone number) stays the text the marketer typed: 08001 is not 8001.
    page.select_option(f"{node} select[data-role=op]", "eq")
    for typed, sent in (("12,5", 12.5), ("08001", "08001"), ("+34600111222", "+34600111222"), ("0", 0)):
        page.fill(f"{node} input[data-role=value]", typed)
        assert accepted("0")["value"] == sent, typed
    page.select_option(f"{node} select[data-role=op]", "exists")
    assert accepted("0") == {"field": "attributes.plan", "op": "exists", "value": True}
    page.click(f"{node} button[data-action=negate]")
    assert accepted("1") == {"not": {"field": "attributes.plan", "op": "exists", "value": True}}
    page.click('.rule-node[data-path="rule"] >> css=button[data-action="add-group"] >> nth=0')
    page.fill('.rule-node[data-path="rule.all.1.any.0"] input[data-role=value]', "es")
    assert accepted("1")
    assert json.loads(page.input_value("#rule-json"))["all"][1] == {
        "any": [{"field": "country", "op": "eq", "value": "es"}]
    }
    assert not errors, errors


def test_a_rule_the_controls_cannot_show_is_kept_as_written_while_others_are_edited(segments_stack, browser):
    """An operator, unit or time the builder does not offer stays as JSON, not rewritten."""
    page = sign_in(browser, segments_stack.console, MARKETER_KEY, "Marta")
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{segments_stack.console}/segments/new")
    kept = [
        {"field": "last_name", "op": "gte", "value": "M"},
        {"mention": {"sentiment": "negative", "days": {"weeks": 2}}},
        {"field": "created_at", "op": "gt", "value": "2026-01-01T10:30:00"},
    ]
    page.click("#rule-json-view summary")
    page.fill("#rule-json", json.dumps({"all": kept}))
    for i in range(3):
        assert page.get_attribute(f'.rule-node[data-path="rule.all.{i}"]', "data-kind") == "raw"
    page.click('.rule-node[data-path="rule"] >> css=button[data-action="add-condition"] >> nth=0')
    page.fill('.rule-node[data-path="rule.all.3"] input[data-role=value]', "ES")
    assert json.loads(page.input_value("#rule-json"))["all"][:3] == kept
    assert not errors, errors


def test_tags_are_chips_places_are_searched_by_name_and_campaigns_picked_by_name(segments_stack, browser):
    """No raw JSON for any field: tags any/all/none as chips, a city instead of coordinates,
    a campaign by name with a time window (issue 17)."""
    import requests

    for email, city, lat, lng, tags in (
        ("ana@example.com", "Málaga", 36.72, -4.42, ["feria", "vip"]),
        ("bea@example.com", "Málaga", 36.70, -4.40, ["feria"]),
        ("carla@example.com", "Madrid", 40.42, -3.70, ["vip"]),
    ):
        answer = requests.post(
            f"{segments_stack.urls['segments']}/customers",
            headers={"X-API-Key": MARKETER_KEY},
            timeout=10,
            json={"email": email, "city": city, "location": {"lat": lat, "lng": lng}, "tags": tags},
        )
        assert answer.status_code == 201, answer.text
    page = sign_in(browser, segments_stack.console, MARKETER_KEY, "Marta", locale="es")
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{segments_stack.console}/segments/new")
    count = page.locator("#segment-count")
    node = '.rule-node[data-path="rule.all.0"]'

    def counted(expected):
        wait_until(lambda: count.inner_text() == expected, what=f"the count {expected}")
        assert page.locator(".rule-node .field-error").count() == 0, page.inner_text("#rule-builder")
        return json.loads(page.input_value("#rule-json"))

    page.select_option(f"{node} select[data-role=field]", "tags")
    assert not errors, errors
    chosen = page.eval_on_selector(f"{node} select[data-role=op]", "s => s.options[s.selectedIndex].text")
    assert chosen == "tiene alguna de", (chosen, errors)
    entry = f"{node} input[data-role=chip-entry]"
    page.fill(entry, "feria")
    page.press(entry, "Enter")
    page.fill(entry, "vip")
    page.press(entry, "Enter")
    chips = page.locator(f"{node} .value-chip")
    assert [chips.nth(i).get_attribute("data-value") for i in range(chips.count())] == ["feria", "vip"]
    assert counted("3")["all"][0] == {"field": "tags", "op": "in", "value": ["feria", "vip"]}
    page.select_option(f"{node} select[data-role=op]", "all")  # the chips stay
    assert counted("1")["all"][0] == {"field": "tags", "op": "all", "value": ["feria", "vip"]}
    page.click(f'{node} .value-chip[data-value="vip"] button[data-action=remove-chip]')
    page.select_option(f"{node} select[data-role=op]", "nin")
    assert counted("1")["all"][0] == {"field": "tags", "op": "nin", "value": ["feria"]}
    page.select_option(f"{node} select[data-role=op]", "in")

    # A place by name: the cities of the customers, with how many live there.
    page.click('.rule-node[data-path="rule"] >> css=button[data-action="add-condition"] >> nth=0')
    second = '.rule-node[data-path="rule.all.1"]'
    page.select_option(f"{second} select[data-role=kind]", "near")
    page.fill(f"{second} input[data-role=place]", "mala")
    choice = page.locator(f"{second} .place-results button[data-place]")
    choice.first.wait_for()
    assert choice.all_inner_texts() == ["Málaga · 2 personas"]
    choice.first.click()
    page.fill(f"{second} input[data-role=km]", "20")
    rule = counted("2")
    assert rule["all"][1] == {"near": {"lat": 36.71, "lng": -4.41, "km": 20}}
    assert page.input_value(f"{second} input[data-role=place]") == "Málaga"  # still named after a redraw
    page.fill(f"{second} input[data-role=place]", "zz")
    page.locator(f"{second} .place-results li.muted").wait_for()
    assert "Ninguna ciudad" in page.inner_text(f"{second} .place-results")

    # A campaign condition: any campaign or one by name, with a window in days.
    page.select_option(f"{second} select[data-role=kind]", "campaign")
    page.fill(f"{second} input[data-role=within_days]", "30")
    assert counted("0")["all"][1] == {"campaign": {"event": "opened", "within_days": 30}}
    assert (
        page.locator(f"{second} select[data-role=campaign_id] option").first.inner_text()
        == "cualquier campaña"
    )
    page.fill("input[name=name]", "Feria")
    assert not page.is_visible("#rule-json")
    assert not errors, errors
