"""An import's first rows, as an analyst reads them.

``GET /imports/<id>`` (and the list) answered ``sample``: the file's first rows as read,
raw. An analyst (read-only, personal data masked everywhere else) read the e-mail,
phone and last name of the first people of every file a marketer uploaded. The
sample is now masked for analysts by what each column holds (its mapping or the
field its name means), and any address in another column is masked too."""

from __future__ import annotations

import io
import json

from tests.segments.conftest import Client, analyst, api, app, settings  # noqa: F401 - fixtures
from tests.support import ANALYST_KEY

HEADER = "external_id,correo,phone,first_name,apellidos,consent.ip,notas,attributes.plan"
ROWS = [
    "crm-1,lucia.garcia@ejemplo.es,+34600999887,Lucía,García,203.0.113.7,escribir a lu@otro.example,oro",
    "crm-2,ñandú@bücher.example,+34611222333,Íñigo,Núñez,,,plata",
]
PERSONAL = (
    "lucia.garcia@ejemplo.es",
    "+34600999887",
    "García",
    "203.0.113.7",
    "lu@otro.example",
    "ñandú@bücher.example",
    "+34611222333",
    "Núñez",
)


def test_an_analyst_reads_an_imports_first_rows_masked(api, app):  # noqa: F811
    data = ("\n".join([HEADER, *ROWS]) + "\n").encode()
    job = api.post(
        "/imports",
        query_string={"review": "true"},
        data={"file": (io.BytesIO(data), "clientes.csv")},
        content_type="multipart/form-data",
    )
    assert job.status_code == 202, job.json
    job_id = job.json["id"]
    full = json.dumps(api.get(f"/imports/{job_id}").json, ensure_ascii=False)
    assert all(value in full for value in PERSONAL)  # the marketer checks the file as it is

    analyst = Client(app, ANALYST_KEY)  # noqa: F811
    one, listed = analyst.get(f"/imports/{job_id}"), analyst.get("/imports")
    assert one.status_code == 200 and listed.status_code == 200
    for answer in (one.json, *listed.json["items"]):
        shown = json.dumps(answer, ensure_ascii=False)
        for value in PERSONAL:
            assert value not in shown, value
    first, second = one.json["sample"]
    assert first[:5] == ["crm-1", "l***@ejemplo.es", "+34*******87", "Lucía", "G***"]
    assert first[7] == "oro" and second[7] == "plata"
    assert "l***@otro.example" in first[6]
    assert one.json["header"] == HEADER.split(",")
