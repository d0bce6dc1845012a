"""Issue 15, findings 2 and 3: what an analyst may count, and the 360 view's interactions.

2. The segment preview counted rules on ``phone``, ``email`` and ``last_name``:
   one digit at a time an analyst recovered ``+34600999887`` from
   ``+34*******87``. Rules, the customer search and CSV exports now read the
   one declaration of personal fields (shared/personal.py) that masking reads.
3. The 360 view masked ``profile.social.x`` but returned
   ``interactions[].data.url`` = ``https://x.com/<handle>/status/...``."""

from __future__ import annotations

import json

import pytest

from shared.models import Customer, Interaction
from shared.personal import PERSONAL_FIELDS
from tests.segments.conftest import Client, admin, analyst, api, app, settings  # noqa: F401 - fixtures
from tests.support import ANALYST_KEY

PHONE = "+34600999887"


@pytest.fixture
def people(api):  # noqa: F811
    created = {}
    for body in (
        {
            "email": "lucia.garcia@ejemplo.es",
            "phone": PHONE,
            "first_name": "Lucía",
            "last_name": "García",
            "attributes": {"email": "otra@ejemplo.es", "plan": "oro"},
            "social": {"x": "lucia_gz"},
        },
        {
            "email": "ñandú@bücher.example",
            "phone": "+34611222333",
            "first_name": "Íñigo",
            "last_name": "Núñez",
            "attributes": {"plan": "plata"},
        },
        {"email": "amal@ejemplo.es", "first_name": "أمل", "last_name": "حداد", "attributes": {"plan": "oro"}},
    ):
        answer = api.post("/customers", json=body)
        assert answer.status_code == 201, answer.json
        created[body["first_name"]] = answer.json["id"]
    return created


def count(client, rule):
    return client.post("/segments/preview", json={"rule": rule, "sample": 0})


def test_an_analyst_cannot_count_digit_by_digit_on_a_personal_field(api, analyst, people):  # noqa: F811
    # what the attack did: grow a known prefix one digit at a time while the count stays 1
    recovered = "+34"
    for _ in range(len(PHONE) - 3):
        for digit in "0123456789":
            answer = count(analyst, {"field": "phone", "op": "starts_with", "value": recovered + digit})
            assert answer.status_code == 422, answer.json
            assert answer.json["details"]["fields"] == {
                "rule.field": ["phone is personal data: your role may not filter or count on it"]
            }
            if answer.json.get("count") == 1:
                recovered += digit
                break
        else:
            break
    assert recovered == "+34"
    # every personal field the rules know, nested anywhere, attributes included, any operator
    for field, op, value in (
        ("email", "contains", "garcia"),
        ("last_name", "starts_with", "Gar"),
        ("phone", "exists", True),
        ("email", "eq", "lucia.garcia@ejemplo.es"),
        ("attributes.email", "eq", "otra@ejemplo.es"),
        # a marketer's or an import's own spelling of the same field
        ("attributes.Email", "starts_with", "otra"),
        ("attributes.Telefono_movil", "exists", True),
    ):
        rule = {
            "all": [
                {"field": "country", "op": "exists", "value": False},
                {"not": {"field": field, "op": op, "value": value}},
            ]
        }
        answer = count(analyst, rule)
        assert answer.status_code == 422 and "count" not in answer.json
        assert list(answer.json["details"]["fields"]) == ["rule.all.1.not.field"], answer.json
        assert field in answer.json["message"] or field in json.dumps(answer.json["details"])
    # a first name cannot reach into the last name (name_key holds both)
    assert count(api, {"field": "first_name", "op": "starts_with", "value": "lucia gar"}).json["count"] == 1
    assert (
        count(analyst, {"field": "first_name", "op": "starts_with", "value": "lucia gar"}).json["count"] == 0
    )
    assert count(analyst, {"field": "first_name", "op": "contains", "value": "garcia"}).json["count"] == 0
    assert count(analyst, {"field": "first_name", "op": "starts_with", "value": "LUCIA"}).json["count"] == 1
    assert count(analyst, {"field": "first_name", "op": "eq", "value": "أمل"}).json["count"] == 1
    # what is not personal still counts, and the marketer still counts on anything
    assert count(analyst, {"field": "attributes.plan", "op": "eq", "value": "oro"}).json["count"] == 2
    assert count(api, {"field": "phone", "op": "starts_with", "value": "+34600"}).json["count"] == 1


def test_an_analyst_cannot_search_customers_on_a_personal_field(api, analyst, people):  # noqa: F811
    for query in ({"email": "lucia.garcia@ejemplo.es"}, {"phone": PHONE}):
        answer = analyst.get("/customers", query_string=query)
        assert answer.status_code == 422 and list(answer.json["details"]["fields"]) == list(query), (
            answer.json
        )
        assert "items" not in answer.json
    # the name search reaches first names only: a last name prefix finds nobody
    assert analyst.get("/customers", query_string={"name": "garc"}).json["total"] == 0
    assert analyst.get("/customers", query_string={"name": "lucia g"}).json["total"] == 0
    assert api.get("/customers", query_string={"name": "garc"}).json["total"] == 1
    found = analyst.get("/customers", query_string={"name": "inigo"}).json
    assert found["total"] == 1 and found["items"][0]["email"] == "ñ***@bücher.example"
    assert found["items"][0]["last_name"] == "N***"


def test_the_360_view_masks_every_interaction_payload_for_analysts(api, analyst, people):  # noqa: F811
    cid = people["Lucía"]
    oid = Customer.objects.get(first_name="Lucía").id
    Interaction(
        customer_id=oid,
        kind="mention",
        key="mention:x:1",
        channel="x",
        sentiment=-0.4,
        summary="Pésimo servicio",
        data={"mention_id": "m1", "label": "negative", "url": "https://x.com/lucia_gz/status/1790000000"},
    ).save()
    Interaction(
        customer_id=oid,
        kind="message_clicked",
        key="delivery:d1:clicked",
        channel="email",
        campaign_id="c1",
        data={"delivery_id": "d1", "url": "https://tienda.example/cuenta?email=lucia.garcia%40ejemplo.es"},
    ).save()
    Interaction(
        customer_id=oid,
        kind="message_bounced",
        key="delivery:d2:bounced",
        channel="email",
        campaign_id="c1",
        data={"delivery_id": "d2", "reason": "550 5.1.1 <lucia.garcia@ejemplo.es>: user unknown"},
    ).save()
    full = json.dumps(api.get(f"/customers/{cid}/view").json, ensure_ascii=False)
    assert "lucia_gz/status" in full and "lucia.garcia%40ejemplo.es" in full
    view = analyst.get(f"/customers/{cid}/view").json
    shown = json.dumps(view, ensure_ascii=False)
    for personal in ("lucia_gz", "lucia.garcia", "García", PHONE):
        assert personal not in shown, personal
    by_kind = {i["kind"]: i for i in view["interactions"]}
    assert by_kind["mention"]["data"] == {"mention_id": "m1", "label": "negative", "url": "https://x.com/***"}
    assert by_kind["message_clicked"]["data"]["url"] == "https://tienda.example/***"
    assert by_kind["message_bounced"]["data"]["reason"] == "550 5.1.1 <l***@ejemplo.es>: user unknown"
    assert by_kind["mention"]["summary"] == "Pésimo servicio" and by_kind["mention"]["sentiment"] == -0.4


def test_one_declaration_for_masking_rules_and_exports(api, app, people):  # noqa: F811
    """Exports mask by the same list: a segment on a marketer's rule, exported by an analyst."""
    segment = api.post("/segments", json={"name": "Oro", "kind": "static"}).json
    api.post(f"/segments/{segment['id']}/members", json={"customer_ids": [people["Lucía"]]})
    csv_text = Client(app, ANALYST_KEY).get(f"/segments/{segment['id']}/export.csv").get_data(as_text=True)
    assert "lucia.garcia@ejemplo.es" not in csv_text and PHONE not in csv_text and "García" not in csv_text
    assert "l***@ejemplo.es" in csv_text and "G***" in csv_text
    assert {"email", "phone", "last_name", "url"} <= set(PERSONAL_FIELDS)


def located(api, email, lat, lng):  # noqa: F811
    answer = api.post(
        "/customers",
        json={"email": email, "city": "Sevilla", "country": "ES", "location": {"lat": lat, "lng": lng}},
    )
    assert answer.status_code == 201, answer.json


def test_an_analyst_cannot_count_a_near_circle_holding_one_home(api, analyst):  # noqa: F811
    """A near rule of a tiny radius around one person's home counted 1: an analyst counts near a
    place only in circles of 1 km or more holding no customer or at least 5 (as /places shows
    only places with 5); a marketer counts as before."""
    from services.segments.profile_reads import ANALYST_MIN_PEOPLE
    from services.segments.rule_behaviour import ANALYST_MIN_KM

    located(api, "casa@ejemplo.es", 37.3900, -5.9800)
    for i in range(ANALYST_MIN_PEOPLE):
        located(api, f"centro{i}@ejemplo.es", 37.4500, -5.9800)  # ~6.7 km north
    home = {"near": {"lat": 37.3900, "lng": -5.9800, "km": 0.05}}
    assert count(api, home).json["count"] == 1  # the marketer sees the person anyway

    tiny = count(analyst, home)
    assert tiny.status_code == 422, tiny.json
    assert list(tiny.json["details"]["fields"]) == ["rule.near.km"]
    assert f"{ANALYST_MIN_KM:g} km" in tiny.json["details"]["fields"]["rule.near.km"][0]

    alone = {"all": [{"field": "country", "op": "eq", "value": "ES"}, {"near": {**home["near"], "km": 2}}]}
    refused = count(analyst, alone)
    assert refused.status_code == 422 and refused.json["error"] == "too_few_people", refused.json
    assert refused.json["details"]["fields"] == {
        "rule.all.1.near.km": [
            f"fewer than {ANALYST_MIN_PEOPLE} customers live in this circle: "
            "your role may count there only with a wider radius"
        ]
    }
    assert "count" not in refused.json and "sample" not in refused.json
    hidden = count(analyst, {"not": {"near": {**home["near"], "km": 2}}})  # the same circle, negated
    assert hidden.status_code == 422 and list(hidden.json["details"]["fields"]) == ["rule.not.near.km"]

    wider = count(analyst, {"near": {**home["near"], "km": 10}})  # all six: a count, not a home
    assert wider.status_code == 200 and wider.json["count"] == ANALYST_MIN_PEOPLE + 1
    crowd = count(analyst, {"near": {"lat": 37.4500, "lng": -5.9800, "km": 1}})
    assert crowd.status_code == 200 and crowd.json["count"] == ANALYST_MIN_PEOPLE
    nobody = count(
        analyst, {"near": {"lat": 40.0, "lng": -3.7, "km": 5}}
    )  # no one there: nobody to single out
    assert nobody.status_code == 200 and nobody.json["count"] == 0
