"""A marketer's first campaign in Spanish through the console only, in headless
Chromium against the real services: import what Excel in Spain saves (';',
Windows-1252, Spanish headers, a consent column), fix one column of the
mapping, see the consents recorded by the mailer, ask a segment to confirm
(double opt-in), build a segment with a tag chip and a place searched by its name
(no JSON), and schedule the
campaign weekly at 10:00 America/Mexico_City, send a test and send it. Screenshots of each step at
1366 and 390 px go to test-artifacts/first-campaign/.

The campaign is then switched to "now" to see who was reached and why the
others were not (its weekly run would only come next Monday).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.console.conftest import Stack, seed_audience, start_backends
from tests.support import MARKETER_KEY, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "first-campaign"
WIDTHS = (1366, 390)

CSV = (
    (
        "Nombre;Apellidos;Correo electrónico;Móvil;País;Ciudad;Latitud;Longitud;Etiquetas;Referencia;"
        "consentimiento.email.newsletter;Origen consentimiento;Fecha consentimiento;Texto consentimiento\r\n"
        "José;Núñez;jose@ejemplo.es;600111222;ES;Málaga;36,72;-4,42;feria|vip;c-1;concedido;Feria de Málaga;"
        "15/03/2025;v2\r\n"
        "Lucía;García;lucia@ejemplo.es;;ES;Málaga;36,70;-4,40;feria;c-2;concedido;Web;2025-02-01;v2\r\n"
        "Íñigo;Ortiz;inigo@ejemplo.es;;ES;Bilbao;43,26;-2,93;feria;c-3;concedido;;;\r\n"
        "Zoë;O'Brien;zoe@example.co.uk;;GB;Londres;51,5;-0,12;;c-4;;;;\r\n"
        "Pilar;Ruiz;pilar@ejemplo.es;;ES;Málaga;36,71;-4,41;feria;c-5;;;;\r\n"  # no consent: in the segment, not reached
    ).encode("cp1252")
)


@pytest.fixture
def first_stack(service_env, smtp_server) -> Stack:
    """Every api, the segments worker (imports), the mailer worker (consents, mail), the
    campaigns worker and scheduler, and the console as a process."""
    urls = start_backends(
        service_env,
        {"segments": ["worker"], "mailer": ["worker"], "campaigns": ["worker", "scheduler"]},
        VINCULO_SEGMENTS_JOB_POLL_SECONDS="0.2",
        VINCULO_MAILER_SMTP_PORT=smtp_server.port,
        VINCULO_MAILER_QUIET_HOURS="",
        VINCULO_MAILER_FROM_ADDRESS="ofertas@tienda.example",
        VINCULO_MAILER_PUBLIC_URL="https://m.example",
    )
    stack = Stack(service_env, urls)
    stack.smtp = smtp_server
    urls["console"] = service_env.start_api("console", **stack.console_env())
    yield stack
    service_env.stop_all()


def shoot(pages: dict, name: str) -> None:
    """The same step at each width (each page is already where the step is)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, page in pages.items():
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)


def test_a_marketer_does_a_first_campaign_in_spanish_through_the_console(first_stack, browser, tmp_path):
    segment_seed, template_id = seed_audience(first_stack, count=1)  # a published template to pick
    console = first_stack.console
    pages = {}
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900}, locale="es-ES")
        page = context.new_page()
        page.goto(f"{console}/sign-in")
        page.fill("input[name=name]", "Marta")
        page.fill("input[name=api_key]", MARKETER_KEY)
        page.press("input[name=api_key]", "Enter")  # the key's own form (the page also has the password form)
        page.wait_for_url(re.compile(r".*/dashboard$"))
        pages[width] = page
    page = pages[1366]
    shoot(pages, "01-panel")

    # 1. Import the Excel file: the columns are proposed from the Spanish headers; one is fixed.
    path = tmp_path / "clientes.csv"
    path.write_bytes(CSV)
    page.goto(f"{console}/imports")
    page.set_input_files("input[name=file]", str(path))
    page.click("#import-form button.primary")
    page.wait_for_url(re.compile(r".*/imports/[0-9a-f]{24}$"))
    job_url = page.url
    hint = page.inner_text("#mapping")
    assert "Windows-1252" in hint and "punto y coma" in hint
    assert page.input_value("select[data-column='Correo electrónico']") == "email"
    assert (
        page.input_value("select[data-column='consentimiento.email.newsletter']")
        == "consent.email.newsletter"
    )
    assert page.input_value("select[data-column='Referencia']") == ""  # unknown: the marketer says what it is
    assert "José" in page.inner_text("#mapping-table") and "Núñez" in page.inner_text("#mapping-table")
    pages[390].goto(job_url)
    shoot(pages, "02-columnas")
    page.select_option("select[data-column='Referencia']", "external_id")
    page.click("#mapping-start")
    page.locator("#rejections").wait_for(timeout=60000)
    assert page.inner_text('[data-k="created"]') == "4" and page.inner_text('[data-k="rejected"]') == "1"
    assert page.inner_text('[data-k="consents"]') == "2"
    rejected = " ".join(page.locator("#rejections tbody tr:not(.warning)").all_inner_texts())
    assert "sin decir dónde se obtuvo" in rejected  # Íñigo: consent claimed without its source
    pages[390].goto(job_url)
    shoot(pages, "03-informe")

    # 2. The consents are in the mailer's ledger, shown on the person's page with their source.
    page.goto(f"{console}/customers?email=jose@ejemplo.es")
    page.click("text=José")
    person_url = page.url

    def granted():
        page.reload()
        return "concedido" in page.inner_text("#consents")

    wait_until(granted, timeout=60, interval=0.5, what="the mailer to record José's consent")
    assert "import" in page.inner_text("#consents") and "v2" in page.inner_text("#consents")
    pages[390].goto(person_url)
    shoot(pages, "04-consentimientos")

    # 3. The segment: a tag as a chip and a place searched by its name, no JSON.
    first, second = '.rule-node[data-path="rule.all.0"]', '.rule-node[data-path="rule.all.1"]'

    def build_segment(p):
        p.goto(f"{console}/segments/new")
        p.fill("input[name=name]", "Feria de Málaga")
        p.select_option(f"{first} select[data-role=field]", "tags")
        p.fill(f"{first} input[data-role=chip-entry]", "feria")
        p.press(f"{first} input[data-role=chip-entry]", "Enter")
        p.click('.rule-node[data-path="rule"] >> css=button[data-action="add-condition"] >> nth=0')
        p.select_option(f"{second} select[data-role=kind]", "near")
        p.fill(f"{second} input[data-role=place]", "malaga")
        place = p.locator(f"{second} .place-results button[data-place]")
        place.first.wait_for()
        assert place.all_inner_texts() == ["Málaga (ES) · 3 personas"], place.all_inner_texts()
        place.first.click()
        p.fill(f"{second} input[data-role=km]", "30")
        wait_until(lambda: p.inner_text("#segment-count") == "3", what="the live count of the segment")

    for width in (390, 1366):
        build_segment(pages[width])
    assert json.loads(page.input_value("#rule-json")) == {
        "all": [
            {"field": "tags", "op": "in", "value": ["feria"]},
            {"near": {"lat": 36.71, "lng": -4.41, "km": 30}},
        ]
    }
    assert not page.is_visible("#rule-json")  # the JSON is only the advanced view
    overflow = pages[390].evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    wide = pages[390].evaluate(
        """() => Array.from(document.querySelectorAll('#segment-form *'))
            .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
            .filter(e => !e.querySelector('*') || e.tagName === 'SELECT').slice(0, 8).map(e => e.tagName + '.' + e.className + '[' + (e.getAttribute('data-role') || '')
                               + '] ' + Math.round(e.getBoundingClientRect().left) + '-' + Math.round(e.getBoundingClientRect().right))"""
    )
    assert overflow <= 1, f"the segment builder scrolls {overflow} px sideways at 390 px: {wide}"
    preview = pages[390].locator("#segment-preview").bounding_box()
    rule_box = pages[390].locator("#rule-builder").bounding_box()
    assert preview["y"] >= rule_box["y"] + rule_box["height"], "the preview covers the rule at 390 px"
    shoot(pages, "05-regla")
    with page.expect_navigation():
        page.click("button[value=save]")
    segment_url = page.url
    assert re.search(r"/segments/[0-9a-f]{24}$", segment_url), segment_url

    def three_members():
        page.reload()
        return page.inner_text("#member-count") == "3"

    wait_until(three_members, timeout=60, interval=0.5, what="José, Lucía and Pilar in the segment")
    pages[390].goto(segment_url)
    shoot(pages, "06-segmento")
    segment_id = segment_url.rsplit("/", 1)[1]

    # 4. The campaign: the segment and template picked by name, weekly on Mondays at 10:00 in Mexico City.
    page.goto(f"{console}/campaigns/new")
    page.fill("input[name=name]", "Feria: novedades")
    page.select_option("select[name=segment_id]", label="Feria de Málaga")
    page.select_option("select[name=template_id]", label="Bienvenida")
    page.check("input[name=schedule_kind][value=weekly]")
    page.click("form#campaign-form button.primary")  # no day, no time: said at the fields, in Spanish
    assert "Elige al menos un día" in page.inner_text('[data-field="schedule.repeat_days"]')
    page.check("input[name=schedule_kind][value=weekly]")
    page.check("input[name=repeat_days][value='1']")
    page.fill("input[name=repeat_time]", "10:00")
    page.fill("input[name=time_zone]", "America/Mexico_City")
    pages[390].goto(page.url)
    shoot(pages, "07-formulario-campana")
    page.click("form#campaign-form button.primary")
    page.wait_for_url(re.compile(r".*/campaigns/[0-9a-f]{24}$"))
    assert "0 10 * * 1" in page.inner_text("main")
    show_url = page.url
    page.goto(show_url + "/edit")  # the weekly schedule reads back as days and a time, not cron
    assert page.is_checked("input[name=schedule_kind][value=weekly]")
    assert (
        page.is_checked("input[name=repeat_days][value='1']")
        and page.input_value("input[name=repeat_time]") == "10:00"
    )
    page.goto(show_url)
    runs = page.locator("ol.runs li").all_inner_texts()
    assert runs and all("10:00:00" in run for run in runs), runs
    assert page.inner_text(f"a[title='{segment_id}']") == "Feria de Málaga"  # picked by name, shown by name
    assert page.inner_text(f"a[title='{template_id}']") == "Bienvenida"
    # Who it will reach, before sending (the mailer's rules): Pilar has no consent.
    audience = page.inner_text("#audience")
    assert "3 en el segmento, 2 alcanzables" in audience, audience
    assert page.locator('#audience [data-reason="no_consent"]').count() == 1
    with page.expect_navigation():
        page.click("button[value=schedule]")
    campaign_url = page.url
    pages[390].goto(campaign_url)
    shoot(pages, "08-campana")
    for width, other in pages.items():
        # Usable at 390 px: nothing scrolls sideways on the campaign page.
        overflow = other.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert width == 1366 or overflow <= 1, (
            f"the campaign page scrolls {overflow} px sideways at {width} px"
        )

    # 5. A test send of the template, from its page.
    page.goto(f"{console}/templates/{template_id}")
    page.fill("form[action$='/test-send'] input[name=to]", "marta@tienda.example")
    page.click("form[action$='/test-send'] button")
    wait_until(lambda: first_stack.smtp.mailbox.to("marta@tienda.example"), timeout=30, what="the test send")
    pages[390].goto(page.url)
    shoot(pages, "09-prueba")

    # 6. Start it: the weekly run is next Monday, so the marketer sends this one now and sees who was reached.
    with page.expect_navigation():
        page.goto(campaign_url)
    with page.expect_navigation():
        page.click("button[value=unschedule]")
    page.goto(campaign_url + "/edit")
    page.check("input[name=schedule_kind][value=now]")
    page.click("form#campaign-form button.primary")
    page.wait_for_url(campaign_url)
    with page.expect_navigation():
        page.click("button[value=schedule]")

    def reached():
        try:
            page.reload()
            return (
                page.inner_text('#progress [data-k="sent"]') == "2" and page.locator("#not-sent").count() == 1
            )
        except PlaywrightError:
            return False

    wait_until(reached, timeout=90, interval=0.5, what="José and Lucía reached, Pilar not and why")
    assert page.locator('#not-sent [data-reason="no_consent"]').count() == 1
    assert sorted(
        r for m in first_stack.smtp.mailbox.snapshot() for r in m.rcpt_tos if r != "marta@tienda.example"
    ) == ["jose@ejemplo.es", "lucia@ejemplo.es"]
    pages[390].goto(campaign_url)
    shoot(pages, "10-alcanzados")
    # The chart's text at 390 px: about as large as the page's small text, its labels apart.
    labels = pages[390].evaluate(
        """() => Array.from(document.querySelectorAll('svg.chart text'))
            .filter(t => getComputedStyle(t).display !== 'none')
            .map(t => { const svg = t.ownerSVGElement;
                        const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
                        return {text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize) * scale}; })"""
    )
    assert labels, "the campaign page has a chart"
    small = [label for label in labels if label["px"] < 10]
    assert not small, f"chart text drawn under 10 px at 390 px: {small}"
    row = sorted(
        pages[390].evaluate(
            """() => Array.from(document.querySelectorAll('svg.chart text.axis[text-anchor=middle]'))
                .filter(t => getComputedStyle(t).display !== 'none')
                .map(t => { const r = t.getBoundingClientRect(); return {left: r.left, right: r.right}; })"""
        ),
        key=lambda label: label["left"],
    )
    assert all(a["right"] <= b["left"] for a, b in zip(row, row[1:])), f"x labels overlap: {row}"

    # Every page of the campaign's path at 390 px: nothing scrolls sideways.
    narrow = pages[390]
    wide_pages = {}
    for path in (
        "/dashboard",
        "/customers",
        "/imports",
        "/segments",
        "/segments/new",
        "/campaigns",
        "/campaigns/new",
        person_url.removeprefix(console),
        job_url.removeprefix(console),
    ):
        narrow.goto(f"{console}{path}")
        overflow = narrow.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 1:
            wide_pages[path] = overflow
    assert wide_pages == {}, f"pages that scroll sideways at 390 px (px): {wide_pages}"
