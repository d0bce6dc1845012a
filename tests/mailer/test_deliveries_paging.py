"""/deliveries pages with `cursor` like every other list; `after` still works (deprecated alias)."""

from __future__ import annotations

from bson import ObjectId

from services.mailer.models import Delivery


def make_deliveries(count: int) -> set[str]:
    template = ObjectId()
    return {
        str(
            Delivery(
                campaign_id="camp-p",
                customer_id=ObjectId(),
                step="main",
                channel="email",
                topic="newsletter",
                template_id=template,
                status="sent",
            )
            .save()
            .id
        )
        for _ in range(count)
    }


def walk(api, parameter: str) -> list[str]:
    seen, cursor = [], None
    for _ in range(20):  # a loop on the first page would never end: bound it
        query = {"campaign_id": "camp-p", "limit": 2, **({parameter: cursor} if cursor else {})}
        page = api.get("/deliveries", query_string=query)
        assert page.status_code == 200, page.get_json()
        body = page.get_json()
        assert body["total"] == 5
        seen += [item["id"] for item in body["items"]]
        cursor = body["next"]
        if not cursor:
            return seen
    raise AssertionError(f"paging with {parameter} never reached the end: {seen}")


def test_a_client_paging_deliveries_with_cursor_reaches_the_end(api):
    made = make_deliveries(5)
    seen = walk(api, "cursor")
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))


def test_after_still_pages_as_a_deprecated_alias_and_a_bad_cursor_names_its_parameter(api):
    made = make_deliveries(5)
    assert sorted(walk(api, "after")) == sorted(made)
    for parameter in ("cursor", "after"):
        refused = api.get("/deliveries", query_string={parameter: "nope"})
        assert refused.status_code == 422 and parameter in refused.get_json()["details"]["fields"]


def test_openapi_documents_cursor_on_every_mailer_list_and_after_as_deprecated(app):
    paths = app.test_client().get("/openapi.json").get_json()["paths"]
    for path in ("/deliveries", "/templates", "/templates/{template_id}/versions"):
        parameters = {p["name"]: p for p in paths[path]["get"]["parameters"]}
        assert "cursor" in parameters, path
        assert parameters["after"].get("deprecated") is True, path
