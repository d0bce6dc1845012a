"""Imports: every class of rejected row reported with line, field and reason;
merge by external id, then email, then phone; re-running a file changes
nothing; suppressed people are skipped; JSON Lines; the file as a job."""

from __future__ import annotations

import csv
import io
import json

from services.segments.models import ImportJob
from shared.messaging.contracts import parse_envelope
from shared.models import Customer, SegmentMember, SuppressedContact, contact_hash
from tests.segments.test_segments_api import run_jobs
from tests.support import drain

HEADER = "external_id,email,phone,first_name,last_name,country,city,stage,tags,lat,lng,attributes.plan,time_zone,locale"

ROWS = [
    # 2: new, needs normalising (decomposed accents, upper-case email, national phone)
    "crm-1,LUCIA@Example.ES,600 111 222,Luci\u0301a,Garci\u0301a,es,Ma\u0301laga,customer,vip;newsletter,36.72,-4.42,oro,,",
    # 3: merges into the existing customer found by external id
    "crm-old,,,,,,Sevilla,,,,,,,",
    # 4: merges into the existing customer found by email, and gives it an external id
    "crm-2,inigo@example.es,,Íñigo,,,,,,,,,,",
    # 5: merges into the existing customer found by phone
    ",,+34 611 222 333,,Smith,GB,,,,,,,,en",
    # 6: bad email
    "crm-6,no-es-correo,,Ana,,,,,,,,,,",
    # 7: bad phone and bad country (two fields, one row)
    "crm-7,,12,Ana,,Narnia,,,,,,,,",
    # 8: unknown stage
    "crm-8,a8@example.com,,,,,,vip,,,,,,",
    # 9: bad time zone and bad locale
    "crm-9,a9@example.com,,,,,,,,,,,Mars/Base,spanish",
    # 10: latitude out of range
    "crm-10,a10@example.com,,,,,,,,95,3,,,",
    # 11: more cells than the header (fewer are empty last cells some tools leave out)
    "crm-11,a11@example.com,,,,,,,,,,,,,de más",
    # 12: no way to merge it
    ",,,Sin,Identificador,ES,,,,,,,,",
    # 13: a suppressed (erased) person: skipped, never re-created
    "crm-13,borrada@example.com,,,,,,,,,,,,",
    # 14: the external id is one person, the email another
    "crm-1,inigo@example.es,,,,,,,,,,,,",
    # 15: same person as row 2 again (by email): reported as a duplicate, not merged
    ",lucia@example.es,,,,,,,promo,,,,,",
    # 16: a tag longer than 100 characters
    "crm-16,a16@example.com,,,,,,," + "x" * 101 + ",,,,,",
]


def csv_file(rows=ROWS, header=HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def upload(api, data: bytes, name="clientes.csv", **query):
    response = api.post(
        "/imports",
        query_string={**query},
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.json
    return response.json


def finished(api, settings, job_id) -> dict:
    run_jobs(settings)
    body = api.get(f"/imports/{job_id}").json
    assert body["status"] in ("done", "failed"), body
    return body


def existing_people():
    from services.segments import profiles

    collection = Customer._get_collection()
    for values in (
        dict(external_id="crm-old", email="viejo@example.com", city="Cádiz"),
        dict(email="inigo@example.es", first_name="Iñigo"),
        dict(phone="+34611222333", first_name="Emma"),
    ):
        collection.insert_one(profiles.new_document(values))
    SuppressedContact(hash=contact_hash("email", "borrada@example.com"), kind="email", reason="erased").save()


def test_csv_import_reports_every_bad_row_merges_and_re_runs_without_changes(api, settings):
    existing_people()
    job = upload(api, csv_file())
    assert job["status"] == "queued" and job["format"] == "csv"
    done = finished(api, settings, job["id"])
    assert (done["status"], done["rows"]) == ("done", 15)
    assert (done["created"], done["updated"], done["unchanged"], done["rejected"], done["skipped"]) == (
        1,
        3,
        0,
        10,
        1,
    ), done
    assert done["progress"] == 1.0
    report = list(csv.DictReader(io.StringIO(api.get(done["report"]).get_data(as_text=True))))
    got = {(int(r["row"]), r["field"]) for r in report if r["warning"] == "no"}
    assert got == {
        (6, "email"),
        (7, "phone"),
        (7, "country"),
        (8, "stage"),
        (9, "time_zone"),
        (9, "locale"),
        (10, "location"),
        (11, "_row"),
        (12, "_row"),
        (13, "email"),
        (14, "email"),
        (15, "_row"),
        (16, "tags"),
    }
    # Lucía (row 2) has no time zone: Spain's main one, flagged as a guess (Spain has three).
    assert {(int(r["row"]), r["field"]) for r in report if r["warning"] == "yes"} == {(2, "time_zone")}
    reasons = {(int(r["row"]), r["field"]): r for r in report}
    assert (
        "11 " not in reasons[(11, "_row")]["reason"]
        and "has 15 columns; the header has 14" in reasons[(11, "_row")]["reason"]
    )
    assert reasons[(13, "email")]["skipped"] == "yes" and "suppressed" in reasons[(13, "email")]["reason"]
    assert "another customer" in reasons[(14, "email")]["reason"]
    assert (
        "the same person as line 2 of this file (email lucia@example.es)" in reasons[(15, "_row")]["reason"]
    )

    lucia = Customer._get_collection().find_one({"external_id": "crm-1"})
    assert lucia["email"] == "lucia@example.es" and lucia["phone"] == "+34600111222"
    assert lucia["first_name"] == "Lucía" and lucia["city"] == "Málaga" and lucia["city_key"] == "malaga"
    assert lucia["tags"] == ["vip", "newsletter"] and lucia["attributes"] == {"plan": "oro"}
    assert lucia["time_zone"] == "Europe/Madrid"
    assert lucia["location"]["coordinates"] == [-4.42, 36.72] and lucia["country"] == "ES"
    old = Customer._get_collection().find_one({"external_id": "crm-old"})
    assert old["city"] == "Sevilla" and old["email"] == "viejo@example.com"
    inigo = Customer._get_collection().find_one({"email": "inigo@example.es"})
    assert inigo["external_id"] == "crm-2" and inigo["first_name"] == "Íñigo"
    emma = Customer._get_collection().find_one({"phone": "+34611222333"})
    assert emma["last_name"] == "Smith" and emma["locale"] == "en"
    assert Customer.objects.count() == 4
    assert not SuppressedContact.objects(hash=contact_hash("email", "a16@example.com")).count()

    before = {d["_id"]: d for d in Customer._get_collection().find()}
    again = finished(api, settings, upload(api, csv_file())["id"])
    assert (again["created"], again["updated"], again["unchanged"], again["rejected"], again["skipped"]) == (
        0,
        0,
        4,
        10,
        1,
    ), again
    assert {d["_id"]: d for d in Customer._get_collection().find()} == before  # not even updated_at moved


def customer_events(service_env) -> str:
    """A queue of this test bound to customer.*."""
    from tests.support import bound_queue

    return bound_queue(service_env, "segments", "customer.*", "customer-events")


def test_an_import_announces_each_created_and_changed_person_once_on_the_broker(api, settings, service_env):
    existing_people()
    queue = customer_events(service_env)
    done = finished(api, settings, upload(api, csv_file())["id"])
    assert (done["created"], done["updated"]) == (1, 3), done
    envelopes = [parse_envelope(m.body) for m in drain(service_env.amqp_url, queue, limit=1000)]
    lucia = Customer._get_collection().find_one({"external_id": "crm-1"})
    created = [e.event() for e in envelopes if e.type == "customer.created"]
    assert [(c.customer_id, c.source, c.external_id) for c in created] == [
        (str(lucia["_id"]), "import", "crm-1")
    ]
    updated = [e.event() for e in envelopes if e.type == "customer.updated"]
    # Lucía's second row is a duplicate of her first: reported, no event of its own.
    people = Customer._get_collection()
    changed = {
        str(people.find_one(query)["_id"])
        for query in ({"external_id": "crm-old"}, {"external_id": "crm-2"}, {"phone": "+34611222333"})
    }
    assert sorted(u.customer_id for u in updated) == sorted(changed)
    assert all(u.source == "import" for u in updated)
    assert len({e.message_id for e in envelopes}) == len(envelopes)

    finished(api, settings, upload(api, csv_file())["id"])  # re-run: nothing changes, nothing announced
    assert drain(service_env.amqp_url, queue) == []


def test_json_lines_import_and_its_error_classes(api, settings):
    lines = [
        json.dumps(
            {
                "email": "sofia@example.mx",
                "first_name": "Sofía",
                "country": "MX",
                "city": "Ciudad de México",
                "location": {"lat": 19.43, "lng": -99.13},
                "tags": ["vip"],
                "attributes": {"puntos": 10},
                "social": {"x": "@SofiaL"},
            },
            ensure_ascii=False,
        ),
        "{not json",
        "[1, 2]",
        json.dumps({"email": "x@example.com", "colour": "red"}),
        "",
        json.dumps({"email": "john@example.com", "phone": "(202) 555-0143", "locale": "en-US"}),
    ]
    data = ("\n".join(lines) + "\n").encode()
    response = api.post(
        "/imports",
        query_string={"format": "jsonl", "default_country": "US"},
        data=data,
        content_type="application/x-ndjson",
    )
    assert response.status_code == 202
    done = finished(api, settings, response.json["id"])
    assert (done["created"], done["rejected"]) == (2, 3), done
    rejections = api.get(f"/imports/{done['id']}/rejections").json
    assert {(r["row"], r["field"]) for r in rejections["items"] if not r["warning"]} == {
        (2, "_row"),
        (3, "_row"),
        (4, "colour"),
    }
    # Sofía has no time zone: Mexico's main one, flagged as a guess (Mexico has several).
    assert [(r["row"], r["field"]) for r in rejections["items"] if r["warning"]] == [(1, "time_zone")]
    sofia = Customer._get_collection().find_one({"email": "sofia@example.mx"})
    assert sofia["social"] == {"x": "sofial"} and sofia["social_keys"] == ["x:sofial"]
    assert sofia["attributes"] == {"puntos": 10} and sofia["location"]["coordinates"] == [-99.13, 19.43]
    assert sofia["time_zone"] == "America/Mexico_City"
    assert Customer._get_collection().find_one({"email": "john@example.com"})["phone"] == "+12025550143"


def test_a_file_level_error_fails_the_job_and_bad_uploads_are_refused(api, settings):
    job = upload(api, b"email,colour\na@example.com,red\n")
    done = finished(api, settings, job["id"])
    assert done["status"] == "failed" and "'colour'" in done["error"]
    response = api.post("/imports", data=b"email\n", content_type="application/octet-stream")
    assert response.status_code == 422 and "format" in response.json["details"]["fields"]
    response = api.post("/imports", query_string={"format": "csv"}, data=b"", content_type="text/csv")
    assert response.status_code == 422
    # Not UTF-8 in its first part: read as Windows-1252, what Excel in Spain saves.
    excel = "email,first_name\nok@example.com,José\nbien@example.com,Núñez €\n".encode("cp1252")
    done = finished(api, settings, upload(api, excel)["id"])
    assert (done["created"], done["rejected"], done["encoding"]) == (2, 0, "cp1252"), done
    assert Customer.objects(email="bien@example.com").first().first_name == "Núñez €"
    # UTF-8 whose later part is broken: the broken row is rejected, the others imported.
    filler = "".join(f"p{i}@example.com,a\n" for i in range(4000)).encode()  # past the 64 KiB looked at
    broken = b"email,first_name\nok2@example.com,Jos\xc3\xa9\n" + filler + b"mal@example.com,Jos\xe9\n"
    done = finished(api, settings, upload(api, broken)["id"])
    assert (done["encoding"], done["created"], done["rejected"]) == ("utf-8-sig", 4001, 1), done
    [rejection] = api.get(f"/imports/{done['id']}/rejections").json["items"]
    assert rejection["row"] == 4003 and "UTF-8" in rejection["reason"]
    assert api.get("/imports").json["total"] == 3  # refused uploads leave no job
    assert ImportJob.objects(status="uploading").count() == 0


def test_imports_are_listed_newest_first_across_pages(api):
    ids = [upload(api, csv_file(rows=[f"crm-{i},p{i}@example.com" + "," * 12]))["id"] for i in range(3)]
    first = api.get("/imports", query_string={"limit": 2}).json
    assert [job["id"] for job in first["items"]] == ids[::-1][:2] and first["total"] == 3
    second = api.get("/imports", query_string={"limit": 2, "cursor": first["next"]}).json
    assert [job["id"] for job in second["items"]] == ids[:1] and second["next"] is None


def test_imported_people_enter_dynamic_segments(api, settings):
    segment = api.post(
        "/segments",
        json={"name": "Clientes en España", "rule": {"field": "country", "op": "eq", "value": "ES"}},
    ).json
    run_jobs(settings)
    rows = [f"imp-{i},p{i}@example.com,,,,{'ES' if i % 2 else 'MX'},,,,,,,," for i in range(10)]
    done = finished(api, settings, upload(api, csv_file(rows))["id"])
    assert done["created"] == 10
    assert SegmentMember.objects(segment_id=segment["id"]).count() == 5
    moved = [f"imp-{i},,,,,ES,,,,,,,," for i in range(10)]
    finished(api, settings, upload(api, csv_file(moved))["id"])
    assert SegmentMember.objects(segment_id=segment["id"]).count() == 10


def test_a_stopping_worker_hands_the_job_back_and_another_resumes_it(api, service_env):
    from services.segments.bootstrap import build
    from services.segments.jobs import JobRunner
    from services.segments.settings import load

    small_batches = build(service_env.settings(load, import_batch_size=3))
    rows = [f"r-{i},r{i}@example.com,,,,ES,,,,,,,," for i in range(10)] + ["r-bad,nope,,,,,,,,,,,,"]
    job = upload(api, csv_file(rows))
    stopping_runner = JobRunner(small_batches)
    stopping_runner.stopping.set()  # shutting down: stops after its first checkpoint
    assert stopping_runner.run_once()
    handed_back = ImportJob.objects(id=job["id"]).first()
    assert (handed_back.status, handed_back.rows, handed_back.created, handed_back.owner) == (
        "queued",
        3,
        3,
        None,
    )
    other = JobRunner(small_batches)
    assert other.run_once()
    done = api.get(f"/imports/{job['id']}").json
    assert (done["status"], done["rows"], done["created"], done["rejected"]) == ("done", 11, 10, 1)
    items = api.get(f"/imports/{job['id']}/rejections").json["items"]
    assert len([r for r in items if not r["warning"]]) == 1
    assert len([r for r in items if r["warning"]]) == 10  # each time zone guessed once, resumed or not
    assert Customer.objects.count() == 10
    small_batches.close()


def test_an_upload_cut_off_mid_way_leaves_no_job_behind(api, settings):
    """The client goes away (or the proxy times out) while the file streams in."""

    class CutOff(io.RawIOBase):
        sent = False

        def readable(self):
            return True

        def seekable(self):  # what the test client asks of a body; the app only reads
            return True

        position = 0

        def seek(self, offset, whence=0):
            self.position = 10**7 if whence == io.SEEK_END else offset
            return self.position

        def tell(self):
            return self.position

        def readinto(self, buffer):
            if self.sent:
                raise ConnectionResetError("connection reset by peer")
            self.sent = True
            data = b"email\n" + b"a@example.com\n" * 1000
            buffer[: len(data)] = data
            return len(data)

    response = api.post(
        "/imports",
        query_string={"format": "csv"},
        input_stream=CutOff(),
        content_type="text/csv",
        content_length=10**7,
    )
    assert response.status_code == 400  # werkzeug answers a client gone mid-body with 400
    assert api.get("/imports").json["total"] == 0
    from services.segments.models import ImportChunk

    assert ImportChunk.objects.count() == 0
