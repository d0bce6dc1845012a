"""Hostile and careless input (issue 15, findings 11, 13 to 17): every API answers a 4xx in
the one error shape, naming the field, and writes nothing half-way."""

from __future__ import annotations

import csv
import io
import json

import pytest
from bson import ObjectId

from shared.models import Customer, Segment
from tests.segments.test_segments_api import run_jobs
from tests.support import ADMIN_KEY

SERVICES = ("segments", "campaigns", "mailer", "listener")
# One JSON-body endpoint per API, with a body it accepts.
WRITES = {
    "segments": ("/customers", {"email": "lucia@example.es", "first_name": "Lucía"}),
    "campaigns": ("/campaigns", {"name": "Rebajas", "channel": "email", "topic": "marketing"}),
    "mailer": (
        "/templates",
        {"name": "Bienvenida", "channel": "email", "variants": {"es": {"subject": "Hola", "text": "Hola"}}},
    ),
    "listener": ("/queries", {"name": "Marca", "keywords": ["vínculo"]}),
}


def shape(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    body = response.get_json()
    assert set(body) == {"error", "message", "details"}, body
    return body


def fields(response) -> set[str]:
    return set(shape(response, 422)["details"].get("fields", {}))


def raw_json(api, path, text: str, method="POST", content_type="application/json"):
    return api(
        method,
        path,
        key=ADMIN_KEY,
        data=text.encode("utf-8", "surrogatepass"),
        headers={"Content-Type": content_type},
    )


# --- finding 13: deep JSON and lone surrogates, on all four APIs ------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_json_nested_ten_thousand_deep_is_a_400(apps, service):
    path, _ = WRITES[service]
    deep = "[" * 10_000 + "]" * 10_000
    body = shape(raw_json(apps(service), path, deep), 400)
    assert "deeper" in body["message"]
    # 33 levels is too deep as well, inside an object the schema would take
    nested = '{"name": ' + "[" * 33 + "]" * 33 + "}"
    shape(raw_json(apps(service), path, nested), 400)


@pytest.mark.parametrize("service", SERVICES)
def test_a_lone_surrogate_in_any_string_is_a_422_naming_the_field(apps, service):
    path, good = WRITES[service]
    text = json.dumps({**good, "name": "Luc\\ud800ía"}).replace("\\\\ud800", "\\ud800")
    assert "\\ud800" in text
    response = raw_json(apps(service), path, text)
    assert "name" in fields(response)
    assert "surrogate" in response.get_json()["details"]["fields"]["name"][0]


def test_a_template_variant_with_a_lone_surrogate_writes_nothing(mailer):
    from services.mailer.models import Template

    _, good = WRITES["mailer"]
    text = json.dumps({**good, "variants": {"es": {"subject": "Hola", "text": "x\\ud800"}}}).replace(
        "\\\\ud800", "\\ud800"
    )
    assert "variants.es.text" in fields(raw_json(mailer, "/templates", text))
    assert Template.objects.count() == 0
    created = mailer("POST", "/templates", json=good).get_json()
    before = Template.objects(id=created["id"]).first().to_mongo().to_dict()
    patch = json.dumps({"variants": {"es": {"subject": "Hola \\udfff", "text": "x"}}}).replace(
        "\\\\udfff", "\\udfff"
    )
    assert fields(raw_json(mailer, f"/templates/{created['id']}/versions", patch))
    after = Template.objects(id=created["id"]).first().to_mongo().to_dict()
    assert after == before  # no version added, the version counter untouched
    assert len(mailer("GET", f"/templates/{created['id']}/versions").get_json()["items"]) == 1


# --- finding 14: content type, empty body, a customer's identifier ----------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_wrong_or_missing_content_type_is_415_and_empty_body_400(apps, service):
    path, good = WRITES[service]
    api = apps(service)
    shape(raw_json(api, path, json.dumps(good), content_type="text/plain"), 415)
    shape(api("POST", path, key=ADMIN_KEY, data=json.dumps(good)), 415)  # no content type at all
    shape(api("POST", path, key=ADMIN_KEY, data="x=1", content_type="application/x-www-form-urlencoded"), 415)
    shape(raw_json(api, path, ""), 400)
    shape(raw_json(api, path, "{'name': 1}"), 400)
    shape(raw_json(api, path, '{"name": NaN}'), 400)


def test_post_customers_never_creates_an_empty_customer(segments):
    shape(segments("POST", "/customers", data=""), 415)
    shape(raw_json(segments, "/customers", ""), 400)
    assert fields(segments("POST", "/customers", json={})) == {"external_id", "email", "phone"}
    assert fields(segments("POST", "/customers", json={"first_name": "Íñigo"})) == {
        "external_id",
        "email",
        "phone",
    }
    assert Customer.objects.count() == 0


def test_a_customer_always_keeps_an_identifier(segments):
    created = segments(
        "POST", "/customers", json={"email": "ñandú@ejemplo.es", "first_name": "Íñigo"}
    ).get_json()
    assert fields(segments("PATCH", f"/customers/{created['id']}", json={"email": None})) >= {"email"}
    assert Customer.objects(id=created["id"]).first().email == "ñandú@ejemplo.es"
    # with a phone as well, the email may go
    assert segments("PATCH", f"/customers/{created['id']}", json={"phone": "+34600111222"}).status_code == 200
    cleared = segments("PATCH", f"/customers/{created['id']}", json={"email": None})
    assert cleared.status_code == 200 and "email" not in cleared.get_json()


# --- finding 11: body size and attribute limits -----------------------------------------------


def test_bodies_over_a_mebibyte_are_413_but_imports_take_more(segments, service_env):
    big = json.dumps({"email": "ana@example.es", "first_name": "x" * (1024 * 1024 + 10)})
    body = shape(raw_json(segments, "/customers", big), 413)
    assert body["details"]["max_bytes"] == 1024 * 1024
    rows = "".join(f"c{i}@example.es,Nombre{i} con un apellido largo\n" for i in range(40_000))
    upload = ("email,first_name\n" + rows).encode()
    assert len(upload) > 1024 * 1024
    accepted = segments("POST", "/imports", data=upload, headers={"Content-Type": "text/csv"})
    assert accepted.status_code == 202, accepted.get_json()


def test_attribute_count_and_size_are_limited(segments):
    many = {f"a{i}": i for i in range(101)}
    assert fields(segments("POST", "/customers", json={"email": "a@example.es", "attributes": many})) == {
        "attributes"
    }
    huge = {"notes": "ñ" * 3000}
    assert fields(segments("POST", "/customers", json={"email": "a@example.es", "attributes": huge})) == {
        "attributes"
    }
    fine = segments(
        "POST",
        "/customers",
        json={"email": "a@example.es", "attributes": {f"a{i}": "ñandú" for i in range(100)}},
    )
    assert fine.status_code == 201 and len(fine.get_json()["attributes"]) == 100


# --- finding 15: the 500s ---------------------------------------------------------------------


def test_a_control_character_in_a_query_is_a_422(segments):
    assert fields(segments("GET", "/customers?email=%1C")) == {"email"}
    assert fields(segments("GET", "/customers?name=%E2%80%AEabc")) == {"name"}  # right-to-left override


def test_a_preview_version_out_of_range_is_a_422(mailer):
    created = mailer("POST", "/templates", json=WRITES["mailer"][1]).get_json()
    response = raw_json(mailer, f"/templates/{created['id']}/preview", '{"version": 5e21}')
    assert fields(response) == {"version"}
    assert fields(
        raw_json(mailer, f"/templates/{created['id']}/preview", '{"version": 5000000000000000000000}')
    ) == {"version"}


def test_a_signed_click_link_with_cr_lf_is_a_bad_link_page(mailer):
    from services.mailer.tokens import from_settings

    tokens = from_settings(mailer.app.config["VINCULO_SETTINGS"])
    token = tokens.sign("click", [str(ObjectId()), "https://tienda.example/\r\nSet-Cookie: x=1"])
    response = mailer("GET", f"/t/c/{token}")
    assert response.status_code == 404 and "Set-Cookie" not in response.headers


def test_a_deeply_nested_json_lines_row_is_rejected_alone(segments, service_env):
    from services.segments.settings import load

    lines = [
        json.dumps({"email": "ana@example.es", "first_name": "Ana"}),
        '{"email": "deep@example.es", "attributes": {"x": ' + "[" * 5000 + "]" * 5000 + "}}",
        json.dumps({"email": "ñandú@ejemplo.es", "first_name": "Íñigo"}),
    ]
    accepted = segments(
        "POST",
        "/imports?format=jsonl",
        data="\n".join(lines).encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert accepted.status_code == 202
    run_jobs(service_env.settings(load))
    job = segments("GET", f"/imports/{accepted.get_json()['id']}").get_json()
    assert (job["status"], job["created"], job["rejected"]) == ("done", 2, 1), job
    [rejection] = segments("GET", f"/imports/{job['id']}/rejections").get_json()["items"]
    assert rejection["row"] == 2 and "deeper" in rejection["reason"]


# --- finding 16: characters in names, formulas in exports --------------------------------------


@pytest.mark.parametrize("name", ["Ana\x00", "Ana\r\nBcc: x@evil.example", "\u202eanA", "Ana\x1b[31m"])
def test_names_with_controls_or_bidi_overrides_are_refused(segments, name):
    assert fields(segments("POST", "/customers", json={"email": "ana@example.es", "first_name": name})) == {
        "first_name"
    }
    assert Customer.objects.count() == 0


def test_right_to_left_and_accented_names_are_kept(segments):
    created = segments(
        "POST",
        "/customers",
        json={"email": "user@bücher.example", "first_name": "مريم", "last_name": "Núñez 🌵"},
    )
    assert created.status_code == 201 and created.get_json()["first_name"] == "مريم"


def test_csv_exports_neutralise_formulas(segments, service_env):
    from services.segments.settings import load

    hostile = ['=HYPERLINK("https://evil.example","x")', "+cmd", "-2+3", "@SUM(A1)"]
    for i, name in enumerate(hostile):
        assert (
            segments(
                "POST", "/customers", json={"email": f"f{i}@example.es", "first_name": name, "country": "ES"}
            ).status_code
            == 201
        )
    rule = {"all": [{"field": "country", "op": "eq", "value": "ES"}]}
    segment = segments(
        "POST", "/segments", json={"name": "España", "kind": "dynamic", "rule": rule}
    ).get_json()
    run_jobs(service_env.settings(load))
    exported = segments("GET", f"/segments/{segment['id']}/export.csv").get_data(as_text=True)
    names = sorted(row["first_name"] for row in csv.DictReader(io.StringIO(exported)))
    assert names == sorted("'" + name for name in hostile)
    # the import report names a rejected row's fields, as the file wrote them
    upload = json.dumps({"email": "g@example.es", '=HYPERLINK("https://evil.example")': 1}).encode()
    job = segments(
        "POST", "/imports?format=jsonl", data=upload, headers={"Content-Type": "application/x-ndjson"}
    ).get_json()
    run_jobs(service_env.settings(load))
    report = list(
        csv.DictReader(
            io.StringIO(segments("GET", f"/imports/{job['id']}/report.csv").get_data(as_text=True))
        )
    )
    assert [row["field"] for row in report] == ['\'=HYPERLINK("https://evil.example")']


@pytest.mark.parametrize(
    "cell, written",
    [
        ("=1+1", "'=1+1"),
        ("+34600111222", "'+34600111222"),
        ("-x", "'-x"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Ana", "Ana"),
        ("ñandú=1", "ñandú=1"),
        (7, 7),
        (None, None),
    ],
)
def test_every_formula_start_gets_an_apostrophe(cell, written):
    from shared.export import safe_cell

    assert safe_cell(cell) == written


# --- finding 17: unknown query parameters, erased and archived ---------------------------------


def test_unknown_query_parameters_are_refused_by_name(segments, apps):
    segments("POST", "/customers", json={"email": "ana@example.es"})
    response = segments("GET", "/customers?email[$ne]=x")
    assert fields(response) == {"email[$ne]"} and "email[$ne]" in response.get_json()["message"]
    assert fields(segments("GET", "/customers?limit=5&emial=ana@example.es")) == {"emial"}
    assert fields(apps("listener")("GET", "/mentions?label[$ne]=x", key=ADMIN_KEY)) == {"label[$ne]"}
    assert fields(apps("campaigns")("GET", "/campaigns/xyz?debug=1", key=ADMIN_KEY)) == {"debug"}
    assert segments("GET", "/customers?email=ana@example.es&limit=5").status_code == 200


def test_erased_customers_and_archived_segments_are_404(segments):
    created = segments("POST", "/customers", json={"email": "ana@example.es"}).get_json()
    assert segments("DELETE", f"/customers/{created['id']}").status_code == 204
    for method, path in (("GET", ""), ("GET", "/view"), ("PATCH", ""), ("POST", "/purchases")):
        body = {"first_name": "Ana"} if method == "PATCH" else {"order_id": "o-1", "amount": 5}
        response = segments(
            method, f"/customers/{created['id']}{path}", **({"json": body} if method != "GET" else {})
        )
        assert shape(response, 404)["error"] == "not_found", path
    assert segments("DELETE", f"/customers/{created['id']}").status_code == 204  # erasing again: idempotent
    segment = segments("POST", "/segments", json={"name": "Lista", "kind": "static"}).get_json()
    assert segments("DELETE", f"/segments/{segment['id']}").status_code == 204
    for method, path in (("GET", ""), ("GET", "/members"), ("GET", "/export.csv"), ("PATCH", "")):
        response = segments(
            method,
            f"/segments/{segment['id']}{path}",
            **({"json": {"name": "x"}} if method == "PATCH" else {}),
        )
        shape(response, 404)
    assert Segment.objects(id=segment["id"]).first().archived is True
