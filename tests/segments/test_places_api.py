"""GET /places: cities the customers live in, with a point for a near rule and a count;
an aggregate only, and analysts see no place small enough to point at a person."""

from __future__ import annotations


def add(api, email, city, country, lat, lng):
    answer = api.post(
        "/customers",
        json={"email": email, "city": city, "country": country, "location": {"lat": lat, "lng": lng}},
    )
    assert answer.status_code == 201, answer.get_json()


def test_places_by_name_prefix_with_centre_and_count_accents_ignored(api):
    add(api, "a@example.com", "Málaga", "ES", 36.72, -4.42)
    add(api, "b@example.com", "Malaga", "ES", 36.70, -4.40)
    add(api, "c@example.com", "Madrid", "ES", 40.42, -3.70)
    add(api, "d@example.com", "Málaga", "CO", 6.89, -72.81)  # a Málaga in Colombia: its own place
    api.post("/customers", json={"email": "e@example.com", "city": "Málaga"})  # no location: not counted
    answer = api.get("/places?q=MALA")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["items"] == [
        {"city": "Málaga", "country": "ES", "lat": 36.71, "lng": -4.41, "count": 2},
        {"city": "Málaga", "country": "CO", "lat": 6.89, "lng": -72.81, "count": 1},
    ]
    assert [p["city"] for p in api.get("/places?q=ma&limit=1").get_json()["items"]] == ["Málaga"]
    assert api.get("/places?q=zz").get_json()["items"] == []
    assert api.get("/places").status_code == 422  # q is required


def test_analysts_see_only_places_with_several_people(api, analyst):
    from services.segments.api.places import ANALYST_MIN_PEOPLE

    for i in range(ANALYST_MIN_PEOPLE):
        add(api, f"s{i}@example.com", "Sevilla", "ES", 37.39, -5.98)
    add(api, "solo@example.com", "Segovia", "ES", 40.95, -4.12)
    seen = analyst.get("/places?q=se").get_json()["items"]
    assert seen == [{"city": "Sevilla", "country": "ES", "lat": 37.39, "lng": -5.98, "count": 5}]
    assert [p["city"] for p in api.get("/places?q=se").get_json()["items"]] == ["Sevilla", "Segovia"]
