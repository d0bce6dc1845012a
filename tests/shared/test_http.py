"""The HTTP base every API shares: error shape, auth and roles, masking, health."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Email, Integer, String
from apiflask.validators import Range

from services.segments.settings import load
from shared import errors
from shared.http.app import create_api_app
from shared.http.auth import mask_personal, roles
from shared.http.errors import ApiError
from tests.support import ADMIN_KEY, ANALYST_KEY, MARKETER_KEY


class PersonIn(Schema):
    email = Email(required=True)
    age = Integer(validate=Range(min=0))
    name = String()


def make_app(service_env, **settings):
    """A real API app from the shared base, with a small blueprint to exercise it."""
    app = create_api_app(
        __name__, service="test", title="test", settings=service_env.settings(load, **settings)
    )
    bp = APIBlueprint("people", __name__)

    @bp.post("/people")
    @bp.input(PersonIn)
    @roles("marketer")
    def create_person(json_data):
        """Echo a person back, masked for analysts."""
        return mask_personal({"email": json_data["email"], "name": json_data.get("name")}), 201

    @bp.get("/people/<int:n>")
    @roles("marketer", "analyst")
    def get_person(n):
        """Read one; 7 conflicts, 9 is a bug."""
        if n == 7:
            raise ApiError(409, "Person 7 is busy", current="busy")
        if n == 9:
            raise RuntimeError("boom")
        if n == 11:
            raise errors.Invalid("age", "must be 18 or more")
        if n == 12:
            raise errors.NotFound("person", 12)
        if n == 13:
            raise errors.Conflict("Person 13 was erased", field="id", current="erased")
        if n == 14:
            raise errors.Unavailable("the mailer cannot say")
        return mask_personal(
            {
                "email": "lucia.garcia@example.com",
                "phone": "+34600111222",
                "social": {"x": "luciag"},
                "name": "Lucía",
                "note": "WhatsApp 55 1234 5678",
            }
        )

    app.register_blueprint(bp)
    return app


def test_requests_without_a_valid_key_are_401_in_the_error_shape(service_env):
    client = make_app(service_env).test_client()
    for headers in ({}, {"X-API-Key": "wrong-key-123"}):
        response = client.get("/people/1", headers=headers)
        assert response.status_code == 401
        assert response.json["error"] == "unauthorized"
        assert set(response.json) == {"error", "message", "details"}


def test_roles_are_enforced_and_admin_may_do_anything(service_env):
    client = make_app(service_env).test_client()
    body = {"email": "x@example.com"}
    assert client.post("/people", json=body, headers={"X-API-Key": ANALYST_KEY}).status_code == 403
    assert client.post("/people", json=body, headers={"X-API-Key": MARKETER_KEY}).status_code == 201
    assert (
        client.post("/people", json=body, headers={"Authorization": f"Bearer {ADMIN_KEY}"}).status_code == 201
    )


def test_validation_errors_name_the_field(service_env):
    client = make_app(service_env).test_client()
    response = client.post(
        "/people", json={"email": "not-an-email", "age": -1}, headers={"X-API-Key": MARKETER_KEY}
    )
    assert response.status_code == 422
    body = response.json
    assert body["error"] == "validation_error"
    assert body["details"]["location"] == "json"
    assert set(body["details"]["fields"]) == {"email", "age"}
    assert "email" in body["message"] and "age" in body["message"]
    missing = client.post("/people", json={}, headers={"X-API-Key": MARKETER_KEY})
    assert missing.json["details"]["fields"] == {"email": ["Missing data for required field."]}
    not_json = client.post(
        "/people", data="{oops", headers={"X-API-Key": MARKETER_KEY, "Content-Type": "application/json"}
    )
    assert not_json.status_code in (400, 422) and not_json.json["error"] in (
        "bad_request",
        "validation_error",
    )


def test_conflicts_not_found_and_bugs_keep_the_shape(service_env):
    client = make_app(service_env).test_client()
    headers = {"X-API-Key": MARKETER_KEY}
    conflict = client.get("/people/7", headers=headers)
    assert (conflict.status_code, conflict.json["error"], conflict.json["details"]) == (
        409,
        "conflict",
        {"current": "busy"},
    )
    missing = client.get("/nowhere", headers=headers)
    assert (missing.status_code, missing.json["error"]) == (404, "not_found")
    bug = client.get("/people/9", headers=headers)
    assert bug.status_code == 500
    assert bug.json == {
        "error": "internal_error",
        "message": "An internal error occurred; it has been logged.",
        "details": {},
    }
    wrong_method = client.delete("/people/1", headers=headers)
    assert (wrong_method.status_code, wrong_method.json["error"]) == (405, "method_not_allowed")


def test_analysts_see_personal_data_masked(service_env):
    client = make_app(service_env).test_client()
    plain = client.get("/people/1", headers={"X-API-Key": MARKETER_KEY}).json
    masked = client.get("/people/1", headers={"X-API-Key": ANALYST_KEY}).json
    assert plain["email"] == "lucia.garcia@example.com"
    assert masked["email"] == "l***@example.com"
    assert masked["phone"] == "+34*******22"
    assert masked["social"] == {"x": "l***"}
    assert masked["name"] == "Lucía"
    assert masked["note"] == "WhatsApp +52********78"  # a Mexican number, by the default phone_regions
    # An installation whose customers are all in Spain reads numbers without +prefix as Spanish only.
    spanish = make_app(service_env, phone_regions=("ES",)).test_client()
    assert (
        spanish.get("/people/1", headers={"X-API-Key": ANALYST_KEY}).json["note"] == "WhatsApp 55 1234 5678"
    )


def test_health_readiness_and_openapi_are_public(service_env):
    client = make_app(service_env).test_client()
    assert client.get("/healthz").json["status"] == "ok"
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json["checks"]) == (200, {"store": "ok", "broker": "ok"})
    spec = client.get("/openapi.json").json
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    assert spec["security"] == [{"ApiKey": []}]
    assert "/people" in spec["paths"]
    assert client.get("/people/1").headers["X-Correlation-ID"]


def test_readiness_reports_a_broker_that_is_down(service_env):
    app = create_api_app(
        __name__,
        service="test",
        title="test",
        settings=service_env.settings(load, amqp_url="amqp://guest:guest@127.0.0.1:1//"),
    )
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert set(ready.json) == {"error", "message", "details"} and ready.json["error"] == "unavailable"
    assert ready.json["details"]["checks"]["store"] == "ok"
    assert ready.json["details"]["checks"]["broker"].startswith("down")


def test_domain_errors_are_mapped_to_http_once_in_the_error_shape(service_env):
    """Domain code raises shared.errors without HTTP; every API answers them the same way."""
    client = make_app(service_env).test_client()
    headers = {"X-API-Key": MARKETER_KEY}
    invalid = client.get("/people/11", headers=headers)
    assert invalid.status_code == 422
    assert invalid.json == {
        "error": "validation_error",
        "message": "Invalid age: must be 18 or more",
        "details": {"location": "json", "fields": {"age": ["must be 18 or more"]}},
    }
    missing = client.get("/people/12", headers=headers)
    assert missing.status_code == 404
    assert missing.json["error"] == "not_found"
    assert missing.json["details"] == {"what": "person", "id": "12"}
    conflict = client.get("/people/13", headers=headers)
    assert conflict.status_code == 409
    assert conflict.json["details"] == {"current": "erased", "fields": {"id": ["Person 13 was erased"]}}
    unavailable = client.get("/people/14", headers=headers)
    assert (unavailable.status_code, unavailable.json["error"]) == (503, "unavailable")
