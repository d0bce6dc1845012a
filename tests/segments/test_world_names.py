"""A name is text a person typed, never a header line: CR/LF and other control
characters are refused where data comes in (API and import row), with the field named."""

from __future__ import annotations

from shared.models import Customer
from tests.segments.test_imports import finished, upload


def test_the_api_refuses_a_name_that_would_add_a_mail_header(api):
    for field, value in (
        ("first_name", "Ana\r\nBcc: x@evil.example"),
        ("last_name", "Ruiz\u202e"),
        ("city", "Sevilla\x00"),
    ):
        answer = api.post("/customers", json={"email": "ana@example.com", field: value})
        assert answer.status_code == 422, answer.json
        assert list(answer.json["details"]["fields"]) == [field]
    assert Customer.objects.count() == 0
    created = api.post(
        "/customers", json={"email": "ñandú@ejemplo.es", "first_name": "Íñigo 👍🏽", "last_name": "محمد"}
    )
    assert created.status_code == 201, created.json
    patch = api.patch(
        f"/customers/{created.json['id']}", json={"first_name": "Íñigo\nReply-To: x@evil.example"}
    )
    assert patch.status_code == 422 and "first_name" in patch.json["details"]["fields"]
    assert Customer.objects.get(email="ñandú@ejemplo.es").first_name == "Íñigo 👍🏽"


def test_an_import_rejects_the_row_with_a_control_character_in_a_name_and_keeps_the_others(api, settings):
    data = (
        "email,first_name,last_name\r\n"
        "ñandú.4@ejemplo.es,Íñigo,Núñez\r\n"
        '"mal@example.com","Ana\rBcc: x@evil.example",Ruiz\r\n'
        "bien@bücher.example,Lía,Sáenz\r\n"
    ).encode()
    done = finished(api, settings, upload(api, data)["id"])
    assert (done["status"], done["created"], done["rejected"]) == ("done", 2, 1), done
    report = api.get(done["report"]).get_data(as_text=True)
    assert "3,first_name" in report.replace('"', "") and "U+000D" in report
    assert sorted(c.email for c in Customer.objects) == ["bien@bücher.example", "ñandú.4@ejemplo.es"]
