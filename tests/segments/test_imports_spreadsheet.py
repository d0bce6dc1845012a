"""Imports as a spreadsheet user makes them: what Excel in Spain saves (';',
Windows-1252, Spanish headers), a mapping step with the first rows and a
proposal that is remembered, every reason in the uploader's language,
duplicate rows reported, locales checked against CLDR, the time zone taken
from the country (flagged when it is a guess), names without control
characters."""

from __future__ import annotations

import csv
import io

import pytest

from shared.models import Customer
from tests.segments.test_imports import existing_people, finished, upload

SPANISH_EXCEL = (
    "Nombre;Apellidos;Correo electrónico;Móvil;País;Ciudad;Latitud;lon;Idioma;Etiquetas;Referencia\r\n"
    "José;Núñez;jose@ejemplo.es;600 111 222;ES;Málaga;36,72;-4,42;es;vip|feria;c-1\r\n"
    "Zoë;O'Brien;zoe@example.co.uk;;GB;Londres;;;en-GB;;c-2\r\n"
    "Ana María;Pérez;ana@example.mx;;MX;Ciudad de México;;;es-MX;;c-3\r\n"
).encode("cp1252")


def test_a_semicolon_windows_1252_file_with_spanish_headers_is_reviewed_mapped_and_remembered(api, settings):
    job = upload(api, SPANISH_EXCEL, review="true", lang="es")
    assert (job["status"], job["encoding"], job["delimiter"]) == ("mapping", "cp1252", ";"), job
    assert job["header"][2] == "Correo electrónico" and job["sample"][0][:3] == [
        "José",
        "Núñez",
        "jose@ejemplo.es",
    ]
    assert job["mapping"] == {
        "Nombre": "first_name",
        "Apellidos": "last_name",
        "Correo electrónico": "email",
        "Móvil": "phone",
        "País": "country",
        "Ciudad": "city",
        "Latitud": "lat",
        "lon": "lng",
        "Idioma": "locale",
        "Etiquetas": "tags",
        "Referencia": None,
    }
    # Waiting for the user: no worker takes it.
    assert finished_or_waiting(api, settings, job["id"]) == "mapping"
    # The user fixes one mapping (the reference is the external id) and ignores the language.
    fixed = {**job["mapping"], "Referencia": "external_id", "Idioma": None}
    bad = api.post(f"/imports/{job['id']}/start", json={"mapping": {**fixed, "Nombre": "nickname"}})
    assert bad.status_code == 422 and "mapping.Nombre" in bad.json["details"]["fields"]
    twice = api.post(f"/imports/{job['id']}/start", json={"mapping": {**fixed, "Apellidos": "first_name"}})
    assert twice.status_code == 422 and "mapping.Apellidos" in twice.json["details"]["fields"]
    started = api.post(f"/imports/{job['id']}/start", json={"mapping": fixed})
    assert started.status_code == 202, started.json
    assert api.post(f"/imports/{job['id']}/start", json={"mapping": fixed}).status_code == 409
    done = finished(api, settings, job["id"])
    assert (done["status"], done["created"], done["rejected"]) == ("done", 3, 0), done
    jose = Customer._get_collection().find_one({"external_id": "c-1"})
    assert (jose["first_name"], jose["last_name"], jose["city"], jose["phone"]) == (
        "José",
        "Núñez",
        "Málaga",
        "+34600111222",
    )
    assert jose["tags"] == ["vip", "feria"] and jose["location"]["coordinates"] == [
        -4.42,
        36.72,
    ]  # decimal commas
    assert (
        Customer._get_collection().find_one({"external_id": "c-2"})["locale"] == "es"
    )  # ignored: the default
    # The next file with the same header gets the confirmed mapping proposed.
    again = upload(api, SPANISH_EXCEL, review="true")
    assert again["mapping"]["Referencia"] == "external_id" and again["mapping"]["Idioma"] == ""


def finished_or_waiting(api, settings, job_id) -> str:
    from tests.segments.test_segments_api import run_jobs

    run_jobs(settings)
    return api.get(f"/imports/{job_id}").json["status"]


@pytest.mark.parametrize(
    "data, encoding, delimiter",
    [
        (b"email\tnombre\r\nt@example.com\tTabulado\r\n", "utf-8-sig", "\t"),
        ("\ufeffemail,nombre\nb@example.com,Con BOM\n".encode("utf-8"), "utf-8-sig", ","),
        ("email;nombre\nu16@example.com;Dieciséis\n".encode("utf-16"), "utf-16", ";"),
    ],
)
def test_delimiters_and_encodings_are_detected(api, settings, data, encoding, delimiter):
    done = finished(api, settings, upload(api, data)["id"])
    assert (done["encoding"], done["delimiter"], done["created"], done["rejected"]) == (
        encoding,
        delimiter,
        1,
        0,
    )


def test_time_zone_from_the_country_a_guess_when_it_has_several(api, settings):
    rows = (
        "email,country,time_zone\n"
        "co@example.com,CO,\n"  # one zone: no warning
        "mx@example.com,MX,\n"  # several: the main one, flagged
        "gb@example.com,GB,\n"
        "dado@example.com,US,America/Chicago\n"
        "nada@example.com,,\n"
    )  # no country: the service default
    done = finished(api, settings, upload(api, rows.encode(), lang="es")["id"])
    assert (done["created"], done["guessed"]) == (5, 1), done
    zones = {d["email"]: d["time_zone"] for d in Customer._get_collection().find()}
    assert zones == {
        "co@example.com": "America/Bogota",
        "mx@example.com": "America/Mexico_City",
        "gb@example.com": "Europe/London",
        "dado@example.com": "America/Chicago",
        "nada@example.com": "Europe/Madrid",
    }
    [warning] = api.get(f"/imports/{done['id']}/rejections").json["items"]
    assert warning["row"] == 3 and warning["warning"] and "se supuso America/Mexico_City" in warning["reason"]


def test_duplicate_rows_for_one_person_are_reported_not_merged(api, settings):
    rows = (
        "external_id,email,first_name,phone\n"
        "d-1,dup@example.com,Primera,600111222\n"
        "d-2,otra@example.com,Otra,\n"
        ",DUP@example.com,Segunda,\n"  # the same person by email
        ",,Tercera,+34 600 111 222\n"
    )  # the same person by phone
    for _ in range(2):  # and again: the same answer, nothing overwritten
        done = finished(api, settings, upload(api, rows.encode())["id"])
        assert done["rejected"] == 2, done
        report = {r["row"]: r["reason"] for r in api.get(f"/imports/{done['id']}/rejections").json["items"]}
        assert "the same person as line 2 of this file (email dup@example.com)" in report[4]
        assert "the same person as line 2 of this file (phone +34600111222)" in report[5]
        assert Customer._get_collection().find_one({"external_id": "d-1"})["first_name"] == "Primera"


# Every class of rejected row, and the file errors, in both languages.
ERROR_ROWS = [
    ("crm-6,no-es-correo,,Ana,,,,,,", "email", "must have an @-sign", "no es una dirección de correo válida"),
    ("crm-7,,12,Ana,,,,,,", "phone", "not a valid phone number", "no es un número de teléfono válido"),
    ("crm-7b,,teléfono,Ana,,,,,,", "phone", "not a phone number", "no es un número de teléfono"),
    ("crm-8,a8@example.com,,,,Narnia,,,,", "country", "two-letter country code", "código de país ISO 3166"),
    ("crm-9,a9@example.com,,,,,vip,,,", "stage", "not one of", "no es uno de"),
    (
        "crm-10,a10@example.com,,,,,,Mars/Base,,",
        "time_zone",
        "not an IANA time zone",
        "no es una zona horaria",
    ),
    ("crm-11,a11@example.com,,,,,,,xx-ZZ,", "locale", "not a known locale", "no es un idioma conocido"),
    (
        'crm-12,a12@example.com,,"Ana\r\nBorrar",,,,,,',
        "first_name",
        "control character (U+000D)",
        "carácter de control (U+000D)",
    ),
    (
        "crm-13,a13@example.com,,Ana\u202eevil,,,,,,",
        "first_name",
        "bidirectional control",
        "control bidireccional",
    ),
    (
        "crm-14,a14@example.com,,,,,,,,norte",
        "location",
        "must be {lat, lng} numbers",
        "lat y lng deben ser números",
    ),
    # Without its empty last cells: read as empty, so only the phone is wrong.
    ("crm-15,a15@example.com,12", "phone", "not a valid phone number", "no es un número de teléfono válido"),
    (
        ",,,Sin,,,,,,",
        "_row",
        "needs an external_id, email or phone",
        "necesita un external_id, correo o teléfono",
    ),
    ("crm-17,borrada@example.com,,,,,,,,", "email", "suppressed contact", "contacto excluido"),
    ("crm-old,inigo@example.es,,,,,,,,", "email", "belongs to another customer", "pertenece a otro cliente"),
    (
        "crm-19,viejo@example.com,,,,,,,,",
        "external_id",
        "has external_id 'crm-old'",
        "tiene external_id «crm-old»",
    ),
    ("crm-20,a20@example.com,,,,,,,," + ",", "_row", "has 11 columns", "tiene 11 columnas"),
]
ERROR_HEADER = "external_id,email,phone,first_name,last_name,country,stage,time_zone,locale,lat"


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_import_error_class_is_worded_in_the_uploaders_language(api, settings, lang):
    existing_people()
    rows = [row for row, *_ in ERROR_ROWS] + [
        "crm-a,a22@example.com,,Ana,,,,,,",
        "crm-a,a23@example.com,,,,,,,,",
    ]
    data = ("\n".join([ERROR_HEADER, *rows]) + "\n").encode()
    lines, line = [], 2  # where each row starts (a quoted line break spans two lines)
    for row in rows:
        lines.append(line)
        line += 1 + row.count("\n")
    done = finished(api, settings, upload(api, data, lang=lang)["id"])
    report = list(csv.DictReader(io.StringIO(api.get(done["report"]).get_data(as_text=True))))
    by_line = {(int(r["row"]), r["field"]): r["reason"] for r in report if r["warning"] == "no"}
    for line, (_row, field, english, spanish) in zip(lines, ERROR_ROWS):
        reason = by_line.get((line, field))
        assert reason is not None, (line, field, by_line)
        assert (english if lang == "en" else spanish) in reason, (line, reason)
    duplicate = by_line[(lines[-1], "_row")]
    assert ("the same person as line" if lang == "en" else "la misma persona que la línea") in duplicate
    # File errors: an unknown column, a column twice.
    failed = finished(api, settings, upload(api, b"email,colour\na@example.com,red\n", lang=lang)["id"])
    assert failed["status"] == "failed" and failed["created"] == 0
    assert ("unknown column(s) 'colour'" if lang == "en" else "columna(s) desconocida(s) 'colour'") in failed[
        "error"
    ]
    twice = finished(
        api, settings, upload(api, b"email,correo\na@example.com,b@example.com\n", lang=lang)["id"]
    )
    assert twice["status"] == "failed"
    assert ("appears twice" if lang == "en" else "aparece dos veces") in twice["error"]


def test_locales_are_checked_against_cldr_in_the_api_too(api):
    assert api.post("/customers", json={"email": "l1@example.com", "locale": "xx-ZZ"}).status_code == 422
    assert api.post("/customers", json={"email": "l3@example.com", "locale": "pt-BR"}).status_code == 201


def test_excels_sep_line_names_the_delimiter_and_is_not_the_header(api, settings):
    # Excel writes (and obeys) a first line "sep=;" so the file opens in columns anywhere.
    data = (
        "sep=;\r\n"
        "Correo electrónico;Nombre;Ciudad\r\n"
        "sep@example.es;Begoña;A Coruña\r\n"
        "no-es-correo;Iñaki;Bilbao\r\n"
    ).encode("cp1252")
    job = upload(api, data, review="true")
    assert (job["delimiter"], job["header"]) == (";", ["Correo electrónico", "Nombre", "Ciudad"]), job
    assert job["sample"] == [["sep@example.es", "Begoña", "A Coruña"], ["no-es-correo", "Iñaki", "Bilbao"]]
    assert api.post(f"/imports/{job['id']}/start", json={"mapping": job["mapping"]}).status_code == 202
    done = finished(api, settings, job["id"])
    assert (done["status"], done["created"], done["rejected"]) == ("done", 1, 1), done
    [bad] = api.get(f"/imports/{done['id']}/rejections").json["items"]
    assert (bad["row"], bad["field"]) == (4, "email"), "the line of the file, counting the sep line"
    begona = Customer._get_collection().find_one({"email": "sep@example.es"})
    assert (begona["first_name"], begona["city"]) == ("Begoña", "A Coruña")
    # Without review, and with a comma named.
    direct = finished(api, settings, upload(api, b"SEP=,\nemail,nombre\ncomma@example.es,Coma\n")["id"])
    assert (direct["status"], direct["delimiter"], direct["created"]) == ("done", ",", 1), direct


def test_phones_as_spain_and_mexico_write_them_are_one_person(api, settings):
    rows = (
        "email;móvil;país\r\n"
        "es1@example.es;+34 600 11 22 33;ES\r\n"
        "es2@example.es;0034600112233;ES\r\n"  # the same number: reported, not a second person
        "mx1@example.mx;+52 1 55 1234 5678;MX\r\n"  # the pre-2019 mobile "1"
        "mx2@example.mx;(55) 1234 5678;MX\r\n"  # as Mexico writes it now: read as the row's country's
    )
    done = finished(api, settings, upload(api, rows.encode())["id"])
    assert (done["created"], done["rejected"]) == (2, 2), done
    items = api.get(f"/imports/{done['id']}/rejections").json["items"]
    report = {r["row"]: r["reason"] for r in items if not r["warning"]}
    assert "the same person as line 2 of this file (phone +34600112233)" in report[3], report
    assert "the same person as line 4 of this file (phone +525512345678)" in report[5], report
    assert Customer._get_collection().find_one({"email": "mx1@example.mx"})["phone"] == "+525512345678"
    # The API reads a national number in the person's country too.
    made = api.post("/customers", json={"email": "gdl@example.mx", "phone": "33 1234 5678", "country": "mx"})
    assert made.status_code == 201 and made.json["phone"] == "+523312345678", made.json


@pytest.mark.parametrize(
    "header, proposed",
    [
        # A CRM's export in English.
        (
            "Email,First Name,Last Name,Mobile Phone Number,Country/Region,City",
            ["email", "first_name", "last_name", "phone", "country", "city"],
        ),
        # A web form's export in Spanish: required marks, colons, "correo-e".
        (
            "Correo-e*;Nombre*;Apellidos:;Teléfono móvil;País/Región",
            ["email", "first_name", "last_name", "phone", "country"],
        ),
        ("E-mail Address,Cell Phone", ["email", "phone"]),
    ],
)
def test_headers_as_other_tools_write_them_are_proposed(api, header, proposed):
    delimiter = ";" if ";" in header else ","
    row = delimiter.join(["x@example.com"] + [""] * (header.count(delimiter)))
    job = upload(api, f"{header}\r\n{row}\r\n".encode(), review="true")
    assert [job["mapping"][name] for name in job["header"]] == proposed, job["mapping"]


def test_exports_open_in_excel_set_up_in_spanish(api, settings):
    data = "external_id;email;nombre;apellidos;ciudad\r\nx-1;jose@ejemplo.es;José;Núñez;A Coruña\r\nx-2;malo;Ana;;\r\n"
    done = finished(api, settings, upload(api, data.encode("cp1252"))["id"])
    segment = api.post(
        "/segments",
        json={
            "name": "Coruña",
            "kind": "dynamic",
            "rule": {"field": "city", "op": "eq", "value": "A Coruña"},
        },
    ).json
    from tests.segments.test_segments_api import run_jobs

    run_jobs(settings)
    for path in (f"/segments/{segment['id']}/export.csv", f"/imports/{done['id']}/report.csv"):
        raw = api.get(path, query_string={"excel": "true"}).get_data()
        assert raw.startswith("\ufeff".encode()), "Excel reads UTF-8 only with a byte-order mark"
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
        assert len(rows) == 2 and len(rows[0]) > 1, rows  # columns split on ';'
        plain = api.get(path).get_data(as_text=True)
        assert not plain.startswith("\ufeff") and "," in plain.splitlines()[0], "the default stays plain CSV"
    members = list(
        csv.DictReader(
            io.StringIO(
                api.get(f"/segments/{segment['id']}/export.csv", query_string={"excel": "true"})
                .get_data()
                .decode("utf-8-sig")
            ),
            delimiter=";",
        )
    )
    assert (members[0]["first_name"], members[0]["last_name"], members[0]["city"]) == (
        "José",
        "Núñez",
        "A Coruña",
    )


# As LibreOffice, Google Sheets (a ragged range) or a hand edit save it: a row's empty last cells
# left out. Windows-1252 and ';', as Excel for Spain writes the rest of the file.
RAGGED = (
    "email;nombre;teléfono;ciudad\r\n"
    "ana@ejemplo.es;Ana\r\n"  # two cells: the phone and the city are empty
    "inigo@ejemplo.es;Íñigo;600 111 222\r\n"  # three
    "luis@ejemplo.es;Luis;;Cádiz\r\n"  # all four
    ";Sin correo\r\n"  # short, and without a way to merge it: rejected for that, not its length
    "pepa@ejemplo.es;Pepa;;Jaén;de más\r\n"  # one cell more than the header: an error
).encode("cp1252")


@pytest.mark.parametrize("review", ["true", "false"])
def test_a_row_without_its_empty_last_cells_is_read_as_empty_cells(api, settings, review):
    job = upload(api, RAGGED, review=review, lang="es")
    if review == "true":
        assert (job["encoding"], job["delimiter"]) == ("cp1252", ";"), job
        assert job["header"] == ["email", "nombre", "teléfono", "ciudad"]
        assert job["sample"][0] == ["ana@ejemplo.es", "Ana", "", ""], "shown in the header's columns"
        assert job["mapping"] == {
            "email": "email",
            "nombre": "first_name",
            "teléfono": "phone",
            "ciudad": "city",
        }
        assert api.post(f"/imports/{job['id']}/start", json={"mapping": job["mapping"]}).status_code == 202
    done = finished(api, settings, job["id"])
    assert (done["status"], done["delimiter"], done["created"], done["rejected"]) == ("done", ";", 3, 2), done
    people = {d["email"]: d for d in Customer._get_collection().find()}
    assert people["ana@ejemplo.es"]["first_name"] == "Ana"
    assert "phone" not in people["ana@ejemplo.es"] and "city" not in people["ana@ejemplo.es"]
    assert (people["inigo@ejemplo.es"]["first_name"], people["inigo@ejemplo.es"]["phone"]) == (
        "Íñigo",
        "+34600111222",
    )
    assert people["luis@ejemplo.es"]["city"] == "Cádiz" and "pepa@ejemplo.es" not in people
    report = {r["row"]: r["reason"] for r in api.get(f"/imports/{done['id']}/rejections").json["items"]}
    assert "necesita un external_id, correo o teléfono" in report[5], report
    assert report[6] == "tiene 5 columnas; la cabecera tiene 4", report


def test_a_re_import_with_a_new_country_moves_a_zone_that_came_from_the_country(api, settings):
    first = (
        "Correo electrónico;País;Zona horaria\r\n"
        "begoña@ejemplo.es;ES;\r\n"  # Spain's main zone, a guess
        "canario@ejemplo.es;ES;Atlantic/Canary\r\n"  # given: never moved
        "iñaki@ejemplo.es;ES\r\n"  # (the empty last cell left out)
    ).encode("cp1252")
    done = finished(api, settings, upload(api, first, lang="es")["id"])
    assert (done["created"], done["guessed"]) == (3, 2), done
    # They moved; the CRM's new export has no zone column.
    moved = (
        "Correo electrónico;País\r\nbegoña@ejemplo.es;MX\r\ncanario@ejemplo.es;MX\r\niñaki@ejemplo.es;AR\r\n"
    )
    for attempt in range(2):
        done = finished(api, settings, upload(api, moved.encode("cp1252"), lang="es")["id"])
        zones = {
            d["email"]: (d["country"], d["time_zone"], d["time_zone_origin"])
            for d in Customer._get_collection().find()
        }
        assert zones == {
            "begoña@ejemplo.es": ("MX", "America/Mexico_City", "guess"),
            "canario@ejemplo.es": ("MX", "Atlantic/Canary", "given"),
            "iñaki@ejemplo.es": ("AR", "America/Argentina/Buenos_Aires", "guess"),
        }
        if attempt == 0:
            assert (done["updated"], done["guessed"], done["rejected"]) == (3, 2, 0), done
            warnings = {
                r["row"]: r["reason"] for r in api.get(f"/imports/{done['id']}/rejections").json["items"]
            }
            assert "se supuso America/Mexico_City por el país MX" in warnings[2], warnings
            assert "se supuso America/Argentina/Buenos_Aires por el país AR" in warnings[4], warnings
            assert set(warnings) == {2, 4}
        else:  # the same file again: nothing changes, nothing is guessed again
            assert (done["unchanged"], done["updated"], done["guessed"]) == (3, 0, 0), done


def test_countries_as_a_spanish_spreadsheet_names_them_are_read_as_codes(api, settings):
    """A "País" column of an Excel file holds "España", "Reino Unido", "México": every row was
    rejected for not being a code. Names in Spanish or English, any case or accents, and the
    usual "UK" / "EE. UU." are read as the ISO code; a code no country has ("XX", "EU") is
    refused, in the import and in the API."""
    rows = (
        "Correo electrónico;País\r\n"
        "es@ejemplo.es;España\r\n"
        "gb@ejemplo.es;Reino Unido\r\n"
        "mx@ejemplo.es;MÉXICO\r\n"
        "us@ejemplo.es;EE. UU.\r\n"
        "uk@ejemplo.es;UK\r\n"
        "pe@ejemplo.es;peru\r\n"
        "xx@ejemplo.es;XX\r\n"
        "narnia@ejemplo.es;Narnia\r\n"
    ).encode("cp1252")
    done = finished(api, settings, upload(api, rows, lang="es")["id"])
    assert (done["created"], done["rejected"]) == (6, 2), done
    countries = {d["email"]: d["country"] for d in Customer._get_collection().find()}
    assert countries == {
        "es@ejemplo.es": "ES",
        "gb@ejemplo.es": "GB",
        "mx@ejemplo.es": "MX",
        "us@ejemplo.es": "US",
        "uk@ejemplo.es": "GB",
        "pe@ejemplo.es": "PE",
    }
    items = api.get(f"/imports/{done['id']}/rejections").json["items"]
    reasons = [r["reason"] for r in items if not r["warning"]]  # (zone guesses for GB, US are warnings)
    assert len(reasons) == 2 and all("código de país" in r for r in reasons), reasons
    for bad in ("XX", "EU", "ZZ"):
        answer = api.post("/customers", json={"email": f"{bad.lower()}@ejemplo.es", "country": bad})
        assert answer.status_code == 422 and "country" in answer.json["details"]["fields"], answer.json
    assert api.post("/customers", json={"email": "uk2@ejemplo.es", "country": "uk"}).json["country"] == "GB"


def test_two_columns_meaning_one_field_are_proposed_once_and_the_proposal_starts(api, settings):
    """ "Teléfono;Teléfono móvil" were both proposed as phone, and starting with the proposal was
    refused ("another column is also mapped to phone"): the second is now left to choose."""
    data = "Correo;Teléfono;Teléfono móvil\r\nana@ejemplo.es;612345678;699111222\r\n".encode("cp1252")
    job = upload(api, data, review="true", lang="es")
    assert job["mapping"] == {"Correo": "email", "Teléfono": "phone", "Teléfono móvil": None}, job
    started = api.post(f"/imports/{job['id']}/start", json={"mapping": job["mapping"]})
    assert started.status_code < 300, started.json
    done = finished(api, settings, job["id"])
    assert (done["created"], done["rejected"]) == (1, 0), done
    assert Customer.objects.get(email="ana@ejemplo.es").phone == "+34612345678"
