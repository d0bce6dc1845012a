"""The mailer's domain errors (shared.errors) answer exactly the bodies its views used to
build: status, code, message and details."""

from __future__ import annotations

from tests.mailer.conftest import create_template


def test_a_message_that_is_not_a_report_is_refused_about_the_body(admin_api):
    response = admin_api.post("/bounces", data=b"Subject: hola\n\nhola\n", content_type="message/rfc822")
    assert response.status_code == 422
    assert response.get_json() == {
        "error": "validation_error",
        "message": "Not a bounce report: expected a multipart/report message (a DSN or an ARF complaint)",
        "details": {
            "location": "body",
            "fields": {"body": ["expected a multipart/report message (a DSN or an ARF complaint)"]},
        },
    }


def test_a_template_that_does_not_render_names_its_fields(api):
    response = api.post(
        "/templates",
        json={"name": "x", "channel": "email", "fallback_locale": "es", "variants": {"es": {"text": "hola"}}},
    )
    assert response.status_code == 422
    assert response.get_json() == {
        "error": "validation_error",
        "message": "Invalid json: variants.es.subject",
        "details": {"location": "json", "fields": {"variants.es.subject": ["is required"]}},
    }


def test_an_archived_template_refuses_a_new_version_and_an_unknown_one_is_not_found(api):
    template = create_template(api)
    assert api.patch(f"/templates/{template['id']}", json={"archived": True}).status_code == 200
    refused = api.post(f"/templates/{template['id']}/versions", json={"variants": {"es": {"subject": "x"}}})
    assert refused.status_code == 409
    assert refused.get_json() == {"error": "conflict", "message": "the template is archived", "details": {}}
    missing = api.get("/templates/0123456789abcdef01234567")
    assert missing.status_code == 404
    assert missing.get_json() == {
        "error": "not_found",
        "message": "template 0123456789abcdef01234567 does not exist",
        "details": {"what": "template", "id": "0123456789abcdef01234567"},
    }


def test_a_test_send_to_a_phone_for_an_email_template_is_refused_on_to(api):
    template = create_template(api)
    response = api.post(f"/templates/{template['id']}/test-send", json={"to": "+34600000000"})
    assert response.status_code == 422
    assert response.get_json() == {
        "error": "validation_error",
        "message": "Invalid to: must be an email address for an email template",
        "details": {"location": "json", "fields": {"to": ["must be an email address for an email template"]}},
    }


def test_publishing_without_a_draft_or_an_unknown_version_is_refused(api):
    template = create_template(api)
    no_draft = api.post(f"/templates/{template['id']}/draft/publish", json={})
    assert no_draft.status_code == 409
    assert no_draft.get_json() == {
        "error": "conflict",
        "message": "there is no draft to publish",
        "details": {},
    }
    unknown = api.post(f"/templates/{template['id']}/versions/99/publish")
    assert unknown.status_code == 404
    assert unknown.get_json() == {
        "error": "not_found",
        "message": "version 99 does not exist",
        "details": {"what": "version", "id": "99"},
    }
