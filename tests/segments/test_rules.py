"""The rule language: every operator against Spanish and English profiles,
through the preview API (compiled to one customers filter, run by the store),
and validation errors that point at the offending node."""

from __future__ import annotations

import datetime

import pytest

from services.segments import profiles
from services.segments.rules import compile_rule
from shared.models import Customer
from shared.store import utcnow


def days_ago(n: float) -> datetime.datetime:
    return utcnow() - datetime.timedelta(days=n)


PEOPLE = [
    dict(
        values=dict(
            email="lucia@example.es",
            first_name="Lucía",
            last_name="García",
            locale="es",
            country="ES",
            city="Málaga",
            location={"type": "Point", "coordinates": [-4.4214, 36.7213]},
            stage="customer",
            tags=["vip", "newsletter"],
            attributes={"plan": "oro", "puntos": 120, "activa": True},
            phone="+34600111222",
        ),
        created=10,
        consent={"email": {"newsletter": "granted"}},
        facts={
            "received": ["c1"],
            "opened": ["c1"],
            "negative_mentions": [{"id": "m1", "at": 3}],
            "purchases": [
                {"order_id": "A", "at": 5, "amount": 30.0},
                {"order_id": "B", "at": 60, "amount": 100.0},
            ],
        },
        purchases={"count": 2, "total": 130.0, "last_at": 5},
    ),
    dict(
        values=dict(
            email="inigo@example.es",
            first_name="Íñigo",
            last_name="Núñez",
            locale="es",
            country="ES",
            city="Bilbao",
            location={"type": "Point", "coordinates": [-2.935, 43.263]},
            stage="prospect",
            tags=["newsletter"],
            attributes={"plan": "plata", "puntos": 40},
        ),
        created=100,
        facts={"received": ["c1"], "negative_mentions": [{"id": "m2", "at": 40}]},
    ),
    dict(
        values=dict(
            email="sofia@example.mx",
            first_name="Sofía",
            last_name="López",
            locale="es-MX",
            country="MX",
            city="Ciudad de México",
            location={"type": "Point", "coordinates": [-99.1332, 19.4326]},
            stage="lead",
            attributes={"puntos": 0},
        ),
        created=200,
        consent={"sms": {"promotions": "granted"}, "email": {"newsletter": "revoked"}},
    ),
    dict(
        values=dict(
            email="emma@example.co.uk",
            first_name="Emma",
            last_name="Smith",
            locale="en",
            country="GB",
            city="London",
            location={"type": "Point", "coordinates": [-0.1276, 51.5072]},
            stage="customer",
            tags=["vip"],
            attributes={"plan": "gold"},
        ),
        created=1,
        facts={
            "received": ["c2"],
            "opened": ["c2"],
            "clicked": ["c2"],
            "purchases": [{"order_id": "C", "at": 1, "amount": 500.0}],
        },
        purchases={"count": 1, "total": 500.0, "last_at": 1},
    ),
    dict(
        values=dict(
            email="john@example.com",
            first_name="John",
            last_name="Doe",
            locale="en-US",
            country="US",
            city="New York",
            stage="churned",
            phone="+12025550143",
        ),
        created=400,
    ),
]


def _dates(value):
    if isinstance(value, dict):
        return {k: (days_ago(v) if k in ("at", "last_at") else _dates(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates(v) for v in value]
    return value


@pytest.fixture
def people(mongo_uri):
    collection = Customer._get_collection()
    for person in PEOPLE:
        doc = profiles.new_document(person["values"])
        doc["created_at"] = days_ago(person["created"])
        doc["consent"] = person.get("consent", {})
        doc["facts"] = _dates(person.get("facts", {}))
        if "purchases" in person:
            doc["purchases"] = {"currency": "EUR", **_dates(person["purchases"])}
        collection.insert_one(doc)
    erased = profiles.new_document(dict(first_name="Borrada", country="ES", locale="es"))
    collection.insert_one({**erased, "erased": True})


def names(api, rule) -> list[str]:
    response = api.post("/segments/preview", json={"rule": rule, "sample": 100})
    assert response.status_code == 200, response.json
    body = response.json
    found = sorted(c["first_name"] for c in body["sample"])
    assert body["count"] == len(found)
    return found


def f(field, op, value=None):
    node = {"field": field, "op": op}
    if value is not None:
        node["value"] = value
    return node


CASES = [
    # comparisons on profile fields
    (f("country", "eq", "es"), ["Lucía", "Íñigo"]),
    (f("country", "ne", "ES"), ["Emma", "John", "Sofía"]),
    (f("locale", "in", ["en", "en-US"]), ["Emma", "John"]),
    (f("stage", "nin", ["customer", "lead"]), ["John", "Íñigo"]),
    (f("city", "eq", "malaga"), ["Lucía"]),  # accents ignored
    (f("city", "eq", "Ciudad de Mexico"), ["Sofía"]),
    (f("last_name", "eq", "NUNEZ"), ["Íñigo"]),  # ñ and case ignored
    (f("last_name", "starts_with", "nú"), ["Íñigo"]),
    (f("first_name", "starts_with", "inig"), ["Íñigo"]),
    (f("first_name", "eq", "Emma"), ["Emma"]),
    (f("email", "contains", "EXAMPLE.ES"), ["Lucía", "Íñigo"]),
    (f("email", "eq", "John@Example.com"), ["John"]),
    (f("city", "contains", "york"), ["John"]),
    (f("phone", "exists", True), ["John", "Lucía"]),
    (f("phone", "exists", False), ["Emma", "Sofía", "Íñigo"]),
    (f("tags", "eq", "vip"), ["Emma", "Lucía"]),
    (f("tags", "contains", "newsletter"), ["Lucía", "Íñigo"]),
    (f("tags", "in", ["newsletter", "vip"]), ["Emma", "Lucía", "Íñigo"]),
    (f("tags", "nin", ["vip"]), ["John", "Sofía", "Íñigo"]),
    (f("tags", "all", ["newsletter", "vip"]), ["Lucía"]),
    (f("tags", "all", ["newsletter"]), ["Lucía", "Íñigo"]),
    # custom attributes
    (f("attributes.plan", "eq", "oro"), ["Lucía"]),
    (f("attributes.plan", "in", ["oro", "gold"]), ["Emma", "Lucía"]),
    (f("attributes.puntos", "gt", 40), ["Lucía"]),
    (f("attributes.puntos", "gte", 40), ["Lucía", "Íñigo"]),
    (f("attributes.puntos", "lt", 40), ["Sofía"]),
    (f("attributes.puntos", "lte", 40), ["Sofía", "Íñigo"]),
    (f("attributes.puntos", "between", [1, 100]), ["Íñigo"]),
    (f("attributes.plan", "exists"), ["Emma", "Lucía", "Íñigo"]),
    (f("attributes.activa", "eq", True), ["Lucía"]),
    (f("attributes.plan", "starts_with", "pl"), ["Íñigo"]),
    # dates: absolute and relative
    (f("created_at", "within_last", {"days": 30}), ["Emma", "Lucía"]),
    (f("created_at", "more_than_ago", {"days": 90}), ["John", "Sofía", "Íñigo"]),
    (f("created_at", "gte", {"ago": {"days": 150}}), ["Emma", "Lucía", "Íñigo"]),
    (f("created_at", "between", [{"ago": {"days": 300}}, {"ago": {"days": 50}}]), ["Sofía", "Íñigo"]),
    (f("created_at", "lt", (utcnow() - datetime.timedelta(days=365)).date().isoformat()), ["John"]),
    (f("purchases.count", "gte", 1), ["Emma", "Lucía"]),
    (f("purchases.total", "gt", 200), ["Emma"]),
    (f("purchases.last_at", "within_last", {"days": 2}), ["Emma"]),
    # location
    ({"near": {"lat": 36.7, "lng": -4.4, "km": 50}}, ["Lucía"]),
    ({"near": {"lat": 40.4168, "lng": -3.7038, "km": 400}}, ["Íñigo"]),  # Madrid -> Bilbao ~320 km
    ({"near": {"lat": 40.4168, "lng": -3.7038, "km": 100}}, []),
    # behaviour
    ({"campaign": {"event": "received", "campaign_id": "c1"}}, ["Lucía", "Íñigo"]),
    ({"campaign": {"event": "opened", "campaign_id": "c1"}}, ["Lucía"]),
    ({"campaign": {"event": "clicked", "campaign_id": "c2"}}, ["Emma"]),
    ({"campaign": {"event": "opened"}}, ["Emma", "Lucía"]),
    ({"mention": {"sentiment": "negative", "days": 7}}, ["Lucía"]),
    ({"mention": {"days": 60}}, ["Lucía", "Íñigo"]),
    ({"purchases": {"days": 30, "count": {"gte": 1}}}, ["Emma", "Lucía"]),
    ({"purchases": {"days": 90, "count": {"gte": 2}}}, ["Lucía"]),
    ({"purchases": {"days": 30, "total": {"gte": 100}}}, ["Emma"]),
    ({"purchases": {"days": 90, "count": {"gte": 1}, "total": {"lt": 200}}}, ["Lucía"]),
    ({"purchases": {"total": {"gte": 100}}}, ["Emma", "Lucía"]),
    # consent
    ({"consent": {"channel": "email", "topic": "newsletter"}}, ["Lucía"]),
    ({"consent": {"channel": "sms", "topic": "promotions"}}, ["Sofía"]),
    # logic
    ({"all": [f("locale", "starts_with", "es"), f("stage", "ne", "lead")]}, ["Lucía", "Íñigo"]),
    ({"any": [f("country", "eq", "MX"), f("country", "eq", "US")]}, ["John", "Sofía"]),
    ({"not": f("country", "eq", "ES")}, ["Emma", "John", "Sofía"]),
    (
        {
            "all": [
                {"any": [f("tags", "eq", "vip"), {"mention": {"days": 60}}]},
                {"not": {"campaign": {"event": "clicked", "campaign_id": "c2"}}},
            ]
        },
        ["Lucía", "Íñigo"],
    ),
]


@pytest.mark.parametrize("rule,expected", CASES, ids=[str(i) for i in range(len(CASES))])
def test_each_operator_selects_the_right_people(api, people, rule, expected):
    assert names(api, rule) == sorted(expected)


def test_invalid_rules_point_at_the_offending_node(api):
    rule = {
        "all": [
            f("country", "eq", "ES"),
            {"any": [f("stage", "eq", "vip")]},
            f("country", "eq", 5),
            f("nope", "eq", 1),
            f("city", "like", "x"),
            {"near": {"lat": 100, "lng": 0, "km": 0}},
            {"mention": {"days": -1}},
            {"purchases": {"days": 30}},
            {"consent": {"channel": "fax", "topic": "newsletter"}},
            {"campaign": {"event": "bought"}},
            f("created_at", "gte", "ayer"),
            {"all": []},
            {"foo": 1},
            f("attributes.puntos", "between", [10, 1]),
        ]
    }
    response = api.post("/segments", json={"name": "Mala", "rule": rule})
    assert response.status_code == 422
    assert response.json["error"] == "validation_error"
    fields = response.json["details"]["fields"]
    assert set(fields) == {
        "rule.all.1.any.0.value",
        "rule.all.2.value",
        "rule.all.3.field",
        "rule.all.4.op",
        "rule.all.5.near.lat",
        "rule.all.5.near.km",
        "rule.all.6.mention.days",
        "rule.all.7.purchases",
        "rule.all.8.consent.channel",
        "rule.all.9.campaign.event",
        "rule.all.10.value",
        "rule.all.11.all",
        "rule.all.12",
        "rule.all.13.value",
    }, fields
    assert api.post("/segments/preview", json={"rule": {"not": 3}}).json["details"]["fields"] == {
        "rule.not": ["must be an object"]
    }


def test_the_compiled_filter_is_one_customers_query_with_relative_placeholders():
    compiled = compile_rule(
        {
            "all": [
                f("country", "eq", "ES"),
                f("created_at", "within_last", {"days": 30}),
                {"near": {"lat": 40.0, "lng": -3.0, "km": 10}},
            ]
        }
    )
    assert compiled.filter == {
        "$and": [
            {"country": "ES"},
            {"created_at": {"$gte": {"__now__": -30 * 86400}}},
            {"location": {"$geoWithin": {"$centerSphere": [[-3.0, 40.0], 10 / 6378.1]}}},
        ]
    }
    assert compiled.relative and compiled.depends_on == {"country", "created_at", "location"}
    assert not compile_rule(f("country", "eq", "ES")).relative


def test_all_applies_to_lists_only_and_needs_values(api):
    rule = {"all": [f("city", "all", ["Málaga"]), f("tags", "all", []), f("tags", "all", "vip")]}
    fields = api.post("/segments/preview", json={"rule": rule}).json["details"]["fields"]
    assert set(fields) == {"rule.all.0.op", "rule.all.1.value", "rule.all.2.value"}, fields
