"""Imports and segments pages (Flask test client) in front of the real segments
api and worker: upload and report, field errors, the rule preview, errors at
their node, confirmations, CSV proxies and role restrictions."""

from __future__ import annotations

import io
import json
import re

import requests

from tests.console.test_pages import csrf_of, signed_in
from tests.support import ANALYST_KEY, CM_KEY, MARKETER_KEY, wait_until

CSV = (
    "email,first_name,last_name,country,city\n"
    "ana@example.com,Ana,García,ES,Madrid\n"  # line 2
    "not-an-email,Bob,Smith,ES,Madrid\n"  # line 3: bad e-mail
    "luis@example.com,Luis,Pérez,PT,Lisboa\n"  # line 4
    ",Nadie,Sinid,ES,Sevilla\n"
)  # line 5: nobody to merge on


def upload(client, content: bytes, filename: str, confirm: bool = True, **form):
    """Upload through the form; a CSV stops at the mapping step, which ``confirm`` accepts as proposed."""
    answer = client.post(
        "/imports",
        data={"csrf_token": csrf_of(client, "/imports"), "file": (io.BytesIO(content), filename), **form},
        content_type="multipart/form-data",
    )
    if confirm and answer.status_code == 302:
        location = answer.headers["Location"]
        html = client.get(location).get_data(as_text=True)
        if 'id="mapping-table"' in html:
            chosen = proposed_mapping(html)
            started = client.post(
                f"{location}/start", data={"csrf_token": csrf_of(client, location), **chosen}
            )
            assert started.status_code == 302, started.get_data(as_text=True)
    return answer


def proposed_mapping(html: str) -> dict:
    """The mapping step's selects as the page proposes them: {"map.0": "email", ...}."""
    chosen = {}
    for name, options in re.findall(r'<select name="(map\.\d+)"[^>]*>(.*?)</select>', html, re.S):
        selected = re.search(r'<option value="([^"]*)" selected>', options)
        chosen[name] = selected.group(1) if selected else ""
    return chosen


def finished(client, location: str) -> str:
    """The import page once the worker has finished the job."""
    page = {}

    def done():
        page["html"] = client.get(location).get_data(as_text=True)
        return 'id="rejections"' in page["html"]

    wait_until(done, timeout=60, what="the import to finish")
    return page["html"]


def add_customers(segments_url: str, people) -> list[str]:
    ids = []
    for email, first, country in people:
        answer = requests.post(
            f"{segments_url}/customers",
            headers={"X-API-Key": MARKETER_KEY},
            timeout=10,
            json={"email": email, "first_name": first, "country": country},
        )
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    return ids


def test_an_upload_runs_and_shows_the_rejected_rows_with_a_report_to_download(segments_console):
    client = signed_in(segments_console, MARKETER_KEY)
    answer = upload(client, CSV.encode(), "clientes.csv")
    assert answer.status_code == 302, answer.get_data(as_text=True)
    location = answer.headers["Location"]
    assert re.fullmatch(r"/imports/[0-9a-f]{24}", location)
    html = finished(client, location)
    rows = re.findall(r'<tr(?: class="skipped")?><td data-row>(\d+)</td><td><code>([^<]+)</code></td>', html)
    assert sorted(int(row) for row, _field in rows) == [3, 5], rows
    # Spain and Portugal have several time zones: the ones given to Ana and Luis are flagged as guesses.
    guessed = re.findall(r'<tr class="warning"><td data-row>(\d+)</td><td><code>time_zone</code>', html)
    assert sorted(int(row) for row in guessed) == [2, 4]
    assert ("3", "email") in rows
    assert 'data-k="created">2<' in html and 'data-k="rejected">2<' in html
    # The heading counts rows as rows and reasons as reasons (it said "Rejected rows (4)").
    assert "Rejected rows and warnings" in html and "(2 rejected, 4 reasons)" in html
    report = client.get(f"{location}/report.csv")  # proxied: the browser never holds the API key
    assert report.status_code == 200 and report.mimetype == "text/csv"
    lines = report.get_data(as_text=True).splitlines()
    assert lines[0] == "row,field,reason,skipped,warning" and len(lines) == 5
    assert [line.split(",")[:2] for line in lines[1:] if line.endswith(",no")] == [
        ["3", "email"],
        ["5", "_row"],
    ]
    # For Excel set up in Spanish: a byte-order mark and ';', offered beside the plain CSV.
    assert f'href="{location}/report.csv?excel=1"' in html
    excel = client.get(f"{location}/report.csv?excel=1").get_data()
    assert excel.startswith("\ufeff".encode()) and excel.decode("utf-8-sig").splitlines()[0] == (
        "row;field;reason;skipped;warning"
    )
    listing = client.get("/imports").get_data(as_text=True)
    assert "clientes.csv" in listing and location in listing


def test_a_bad_file_shows_the_error_next_to_its_field(segments_console):
    client = signed_in(segments_console, MARKETER_KEY)
    nothing = client.post(
        "/imports", data={"csrf_token": csrf_of(client, "/imports")}, content_type="multipart/form-data"
    )
    assert nothing.status_code == 422
    assert re.search(
        r'class="field-error" role="alert" data-field="file">[^<]+<', nothing.get_data(as_text=True)
    )
    empty = upload(client, b"", "vacio.csv")  # the segments API refuses it, naming the field
    assert empty.status_code == 422
    assert re.search(r'data-field="file">[^<]*empty', empty.get_data(as_text=True))
    unknown = upload(client, b"email\na@example.com\n", "lista.txt")  # no format from the name
    assert unknown.status_code == 422
    assert re.search(r'data-field="format">[^<]*csv or jsonl', unknown.get_data(as_text=True))
    assert (
        requests.get(
            f"{segments_console.config['VINCULO_SETTINGS'].segments_url}/imports",
            headers={"X-API-Key": MARKETER_KEY},
            timeout=10,
        ).json()["total"]
        == 0
    )


def test_a_file_over_the_console_limit_is_refused_at_its_field(service_env, segments_url):
    from services.console.app import create_app
    from services.console.settings import load

    app = create_app(service_env.settings(load, segments_url=segments_url, upload_max_bytes=1024 * 1024))
    app.config["TESTING"] = True
    client = signed_in(app, MARKETER_KEY)
    big = upload(client, CSV.encode() * 20000, "grande.csv")  # ~2.6 MB
    assert big.status_code == 413
    assert re.search(r'data-field="file">[^<]*1 MB', big.get_data(as_text=True))
    assert 'enctype="multipart/form-data"' in big.get_data(as_text=True)  # the upload form, to try again
    assert (
        requests.get(f"{segments_url}/imports", headers={"X-API-Key": MARKETER_KEY}, timeout=10).json()[
            "total"
        ]
        == 0
    )
    manager = signed_in(app, CM_KEY)  # a role without the imports page gets no list
    refused = manager.post(
        "/imports",
        data={"file": (io.BytesIO(CSV.encode() * 20000), "x.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 413 and "data-field" not in refused.get_data(as_text=True)


def test_only_the_import_upload_takes_a_body_over_the_form_limit(segments_console):
    """The upload limit (512 MiB by default) is the import's; any other form, even before
    sign-in, is refused above 64 MiB."""
    from services.console.app import FORM_MAX_BYTES

    client = segments_console.test_client()
    body = b"x" * (FORM_MAX_BYTES + 1)
    answer = client.post("/sign-in", data=body, content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 413


def test_the_preview_counts_what_a_pasted_rule_selects_without_javascript(segments_console, segments_url):
    add_customers(
        segments_url,
        [
            ("a@example.com", "Ana", "ES"),
            ("b@example.com", "Bea", "ES"),
            ("c@example.com", "Carlos", "PT"),
            ("d@example.com", "Dora", "PT"),
            ("e@example.com", "Eva", "PT"),
        ],
    )
    client = signed_in(segments_console, MARKETER_KEY)
    rule = {"all": [{"field": "country", "op": "eq", "value": "PT"}]}
    answer = client.post(
        "/segments/new",
        data={
            "csrf_token": csrf_of(client),
            "name": "Portugal",
            "rule": json.dumps(rule),
            "action": "preview",
        },
    )
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert '<span id="segment-count">3</span>' in html
    assert html.count("<td data-email>") == 3 and "c@example.com" in html
    # The script's endpoint: JSON in, JSON out, CSRF in a header.
    live = client.post(
        "/segments/preview",
        json={"rule": {"field": "country", "op": "in", "value": ["ES", "PT"]}},
        headers={"X-CSRF-Token": csrf_of(client)},
    )
    assert live.status_code == 200 and live.get_json()["count"] == 5
    assert client.post("/segments/preview", json={"rule": rule}).status_code == 400  # no token


def test_saving_an_invalid_rule_shows_the_error_at_its_node(segments_console):
    client = signed_in(segments_console, MARKETER_KEY)
    rule = {
        "all": [
            {"field": "country", "op": "eq", "value": "ES"},
            {
                "any": [
                    {"field": "tags", "op": "contains", "value": "vip"},
                    {"field": "created_at", "op": "within_last", "value": {"fortnights": 2}},
                ]
            },
        ]
    }
    answer = client.post(
        "/segments/new",
        data={"csrf_token": csrf_of(client), "name": "Mal", "rule": json.dumps(rule), "action": "save"},
    )
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    node = re.search(r'<li class="rule-node" data-path="rule\.all\.1\.any\.1">(.*?)</li>', html, re.S).group(
        1
    )
    assert re.search(
        r'class="field-error" role="alert" data-field="rule\.all\.1\.any\.1">value: must be like', node
    )
    assert "field-error" not in re.search(r'data-path="rule\.all\.0">(.*?)</li>', html, re.S).group(1)
    assert "fortnights" in html  # the JSON typed is kept
    bad_json = client.post(
        "/segments/new",
        data={"csrf_token": csrf_of(client), "name": "Mal", "rule": '{"all": [', "action": "save"},
    )
    assert bad_json.status_code == 422
    assert re.search(r'data-field="rule">Not valid JSON', bad_json.get_data(as_text=True))
    too_deep = client.post(
        "/segments/new",
        data={"csrf_token": csrf_of(client), "name": "Hondo", "rule": "[" * 100_000, "action": "save"},
    )
    assert too_deep.status_code == 422  # nesting the parser gives up on: a field error, not a 500
    assert re.search(r'data-field="rule">Not valid JSON', too_deep.get_data(as_text=True))
    assert client.get("/segments").get_data(as_text=True).count('href="/segments/') == 1  # only "new"


def test_save_then_the_detail_page_with_members_export_and_confirmed_actions(segments_console, segments_url):
    add_customers(
        segments_url,
        [("a@example.com", "Ana", "ES"), ("b@example.com", "Bea", "ES"), ("c@example.com", "Carlos", "PT")],
    )
    client = signed_in(segments_console, MARKETER_KEY)
    answer = client.post(
        "/segments/new",
        data={
            "csrf_token": csrf_of(client),
            "name": "España",
            "action": "save",
            "rule": json.dumps({"all": [{"field": "country", "op": "eq", "value": "ES"}]}),
        },
    )
    assert answer.status_code == 302
    location = answer.headers["Location"]
    wait_until(
        lambda: '<span id="member-count">2</span>' in client.get(location).get_data(as_text=True),
        timeout=60,
        what="the new segment to be filled",
    )
    html = client.get(location).get_data(as_text=True)
    assert "a@example.com" in html and "c@example.com" not in html
    export = client.get(f"{location}/export.csv")
    assert export.status_code == 200 and len(export.get_data(as_text=True).splitlines()) == 3
    assert f'href="{location}/export.csv?excel=1"' in html
    excel = client.get(f"{location}/export.csv?excel=1").get_data().decode("utf-8")
    assert excel.startswith("\ufeff") and ";" in excel.splitlines()[0] and "," not in excel.splitlines()[0]
    assert 'href="/segments/"' not in html and "España" in client.get("/segments").get_data(as_text=True)

    asked = client.post(f"{location}/recompute", data={"csrf_token": csrf_of(client)})
    assert asked.status_code == 200 and 'name="confirmed" value="yes"' in asked.get_data(as_text=True)
    done = client.post(f"{location}/recompute", data={"csrf_token": csrf_of(client), "confirmed": "yes"})
    assert done.status_code == 302 and "recomputing=1" in done.headers["Location"]
    asked = client.post(f"{location}/archive", data={"csrf_token": csrf_of(client)})
    assert "confirmed" in asked.get_data(as_text=True)
    assert (
        requests.get(f"{segments_url}{location}", headers={"X-API-Key": MARKETER_KEY}, timeout=10).json()[
            "archived"
        ]
        is False
    )
    gone = client.post(f"{location}/archive", data={"csrf_token": csrf_of(client), "confirmed": "yes"})
    assert gone.status_code == 302 and gone.headers["Location"] == "/segments"
    assert "España" not in client.get("/segments").get_data(as_text=True)


def test_static_segment_from_a_pasted_list(segments_console, segments_url):
    add_customers(segments_url, [("a@example.com", "Ana", "ES"), ("b@example.com", "Bea", "ES")])
    client = signed_in(segments_console, MARKETER_KEY)
    answer = client.post(
        "/segments/new",
        data={
            "csrf_token": csrf_of(client),
            "name": "Lista VIP",
            "kind": "static",
            "people": "a@example.com\nnadie@example.com",
            "action": "save",
        },
    )
    assert answer.status_code == 302
    html = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert '<span id="member-count">1</span>' in html and "a@example.com" in html
    assert "Not found: nadie@example.com" in html  # said, not dropped


def test_roles_follow_the_segments_api(segments_console, segments_url):
    add_customers(segments_url, [("lucia.garcia@example.com", "Lucía", "ES")])
    created = requests.post(
        f"{segments_url}/segments",
        headers={"X-API-Key": MARKETER_KEY},
        timeout=10,
        json={"name": "Todos ES", "rule": {"field": "country", "op": "eq", "value": "ES"}},
    ).json()
    wait_until(
        lambda: (
            requests.get(
                f"{segments_url}/segments/{created['id']}", headers={"X-API-Key": MARKETER_KEY}, timeout=10
            ).json()["members"]
            == 1
        ),
        timeout=60,
        what="the segment filled",
    )
    nav = {}
    for role, key in (("marketer", MARKETER_KEY), ("cm", CM_KEY), ("analyst", ANALYST_KEY)):
        page = signed_in(segments_console, key).get("/dashboard").get_data(as_text=True)
        nav[role] = re.search(r'<nav class="main".*?</nav>', page, re.S).group(0)
    assert 'href="/segments"' in nav["marketer"] and 'href="/imports"' in nav["marketer"]
    assert 'href="/segments"' in nav["analyst"] and 'href="/imports"' in nav["analyst"]
    assert 'href="/segments"' in nav["cm"] and 'href="/imports"' not in nav["cm"]

    analyst = signed_in(segments_console, ANALYST_KEY)
    csrf = csrf_of(analyst)
    assert analyst.get("/imports").status_code == 200
    assert 'id="import-form"' not in analyst.get("/imports").get_data(as_text=True)
    assert upload(analyst, CSV.encode(), "x.csv").status_code == 403
    detail = analyst.get(f"/segments/{created['id']}").get_data(as_text=True)
    assert "l***@example.com" in detail and "lucia.garcia" not in detail  # masked by the API for this key
    assert 'action="/segments/' not in detail  # no recompute / archive buttons
    assert (
        analyst.post(
            f"/segments/{created['id']}/archive", data={"csrf_token": csrf, "confirmed": "yes"}
        ).status_code
        == 403
    )
    preview = analyst.post(
        "/segments/new",
        data={
            "csrf_token": csrf,
            "rule": '{"field": "country", "op": "eq", "value": "ES"}',
            "action": "preview",
        },
    )
    assert preview.status_code == 200 and "l***@example.com" in preview.get_data(as_text=True)
    assert (
        analyst.post(
            "/segments/new", data={"csrf_token": csrf, "name": "x", "rule": "{}", "action": "save"}
        ).status_code
        == 403
    )

    cm = signed_in(segments_console, CM_KEY)
    assert cm.get("/imports").status_code == 403 and cm.get("/segments/new").status_code == 403
    detail = cm.get(f"/segments/{created['id']}")
    assert detail.status_code == 200 and 'id="members"' not in detail.get_data(as_text=True)
    assert cm.get(f"/segments/{created['id']}/export.csv").status_code == 403


def test_without_a_worker_the_import_page_shows_it_queued_and_refreshes_itself(service_env):
    """No JavaScript needed to follow an import: while it waits or runs the page reloads itself."""
    from tests.console.conftest import in_process_console

    url = service_env.start_api("segments")  # no worker: the job stays queued
    try:
        app = in_process_console(service_env, segments_url=url)
        client = signed_in(app, MARKETER_KEY)
        answer = upload(client, CSV.encode(), "clientes.csv")
        html = client.get(answer.headers["Location"]).get_data(as_text=True)
        assert '<span class="state queued" id="import-state">queued</span>' in html
        assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in html
        assert 'data-poll="2"' in html and 'id="rejections"' not in html
        progress = client.get(answer.headers["Location"] + "/progress").get_json()
        assert progress["status"] == "queued" and progress["rows"] == 0
    finally:
        service_env.stop_all()


def test_editing_a_segment_changes_its_rule(segments_console, segments_url):
    add_customers(segments_url, [("a@example.com", "Ana", "ES"), ("c@example.com", "Carlos", "PT")])
    created = requests.post(
        f"{segments_url}/segments",
        headers={"X-API-Key": MARKETER_KEY},
        timeout=10,
        json={"name": "Uno", "rule": {"field": "country", "op": "eq", "value": "ES"}},
    ).json()
    client = signed_in(segments_console, MARKETER_KEY)
    form = client.get(f"/segments/{created['id']}/edit").get_data(as_text=True)
    assert 'value="Uno"' in form and "&#34;ES&#34;" in form  # the rule's JSON, ready to edit
    bad = client.post(
        f"/segments/{created['id']}/edit",
        data={
            "csrf_token": csrf_of(client),
            "name": "Uno",
            "action": "save",
            "rule": json.dumps({"field": "country", "op": "eq", "value": "Portugal"}),
        },
    )
    assert bad.status_code == 422
    assert re.search(
        r'data-path="rule">.*?data-field="rule">value: must be an ISO 3166', bad.get_data(as_text=True), re.S
    )
    saved = client.post(
        f"/segments/{created['id']}/edit",
        data={
            "csrf_token": csrf_of(client),
            "name": "Portugal",
            "action": "save",
            "rule": json.dumps({"field": "country", "op": "eq", "value": "PT"}),
        },
    )
    assert saved.status_code == 302
    wait_until(
        lambda: "c@example.com" in client.get(f"/segments/{created['id']}").get_data(as_text=True),
        timeout=60,
        what="the segment recomputed with its new rule",
    )
    page = client.get(f"/segments/{created['id']}").get_data(as_text=True)
    assert "a@example.com" not in page and "Portugal" in page


def test_an_analyst_s_near_count_around_one_home_is_refused_in_their_language(segments_console, segments_url):
    answer = requests.post(
        f"{segments_url}/customers",
        headers={"X-API-Key": MARKETER_KEY},
        timeout=10,
        json={"email": "casa@example.com", "country": "ES", "location": {"lat": 37.39, "lng": -5.98}},
    )
    assert answer.status_code == 201, answer.text
    client = signed_in(segments_console, ANALYST_KEY, "Ana", "es")
    rule = {
        "all": [
            {"field": "country", "op": "eq", "value": "ES"},
            {"near": {"lat": 37.39, "lng": -5.98, "km": 2}},
        ]
    }
    live = client.post("/segments/preview", json={"rule": rule}, headers={"X-CSRF-Token": csrf_of(client)})
    assert live.status_code == 422, live.get_json()
    refused = "viven menos de 5 clientes en este círculo: tu rol solo puede contar ahí con un radio mayor"
    assert live.get_json()["fields"] == {"rule.all.1.near.km": [refused]}
    assert live.get_json()["placed"] == {"rule.all.1": [f"near.km: {refused}"]}
    assert "count" not in live.get_json()
    tiny = {"near": {"lat": 37.39, "lng": -5.98, "km": 0.05}}
    page = client.post(
        "/segments/new",
        data={"csrf_token": csrf_of(client), "name": "Casa", "rule": json.dumps(tiny), "action": "preview"},
    )
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "tu rol solo puede contar cerca de un lugar con un radio de 1 km o más" in html
    assert '<span id="segment-count">—</span>' in html  # no count shown
