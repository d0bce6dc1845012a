"""The rows of an import file: CSV (with the job's column mapping) or JSON Lines,
each shaped into profile fields, or rejected with its line number and reason.

A problem with the file as a whole (an unknown column, a header that cannot be
read) raises ``FileError``: the job fails, naming it in the uploader's language.
"""

from __future__ import annotations

import csv
import functools
import itertools
import json
import re
from dataclasses import dataclass, field

from services.segments import import_consent, import_format, import_messages, profiles
from shared.http.inputs import MAX_DEPTH, too_deep

COLUMNS = set(profiles.SCALARS) | {"tags", "lat", "lng"}
PREFIXED = re.compile(r"^(attributes|social)\.([A-Za-z0-9_\-]{1,64})$")
JSON_KEYS = set(profiles.WRITABLE) | {"lat", "lng"}
MAX_LINE = 64 * 1024
csv.field_size_limit(MAX_LINE)


class FileError(Exception):
    """The file as a whole cannot be read (e.g. an unknown CSV column): a message code
    of import_messages and its values, worded in the job's language when it fails."""

    def __init__(self, code: str, **params):
        super().__init__(import_messages.text(code, "en", **params))
        self.code, self.params = code, params

    def worded(self, language: str) -> str:
        return import_messages.text(self.code, language, **self.params)


@dataclass
class Row:
    line: int
    data: dict | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)  # (field, reason)
    consent: dict = field(default_factory=dict)  # consent.* columns (see import_consent)


def _split_consent(data: dict) -> tuple[dict, dict]:
    """(profile columns, consent columns) of one row."""
    consent = {k: data.pop(k) for k in [k for k in data if import_consent.is_column(k)]}
    return data, consent


def _decimal(value):
    """A coordinate as a spreadsheet in Spanish writes it ("36,72") or as it is."""
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+,\d+\s*", value):
        return value.replace(",", ".")
    return value


def _shape(data: dict) -> dict:
    """File columns -> profile fields (lat/lng -> location, attributes.x, social.x)."""
    out: dict = {}
    attributes, social = {}, {}
    for key, value in data.items():
        match = PREFIXED.match(key)
        if match:
            (attributes if match.group(1) == "attributes" else social)[match.group(2)] = value
        elif key not in ("lat", "lng"):
            out[key] = value
    if attributes:
        out["attributes"] = {k: v for k, v in attributes.items() if v not in (None, "")} or None
    if social:
        out["social"] = {k: v for k, v in social.items() if v not in (None, "")} or None
    lat, lng = (_decimal(data.get(key)) for key in ("lat", "lng"))
    if lat not in (None, "") or lng not in (None, ""):
        out["location"] = [lng, lat]
    return out


def _header_names(raw: list[str], mapping: dict | None) -> list[str | None]:
    """The profile field of each column (None: ignored), by the job's mapping or the names as they are."""
    if len(set(raw)) != len(raw):
        raise FileError("file_twice", column=next(h for h in raw if raw.count(h) > 1))
    if mapping:
        names = [mapping.get(h, h) or None for h in raw]
    else:
        names = [h.lower() if not PREFIXED.match(h) else h for h in raw]
    unknown = [
        h
        for h in names
        if h is not None and h not in COLUMNS and not PREFIXED.match(h) and not import_consent.is_column(h)
    ]
    if unknown:
        raise FileError(
            "file_unknown_columns",
            columns=", ".join(repr(h) for h in unknown),
            known=", ".join(sorted(COLUMNS)),
        )
    used = [h for h in names if h is not None]
    if len(set(used)) != len(used):
        raise FileError("file_twice", column=next(h for h in used if used.count(h) > 1))
    return names


def csv_rows(
    text, delimiter: str = ",", mapping: dict | None = None, language: str = "en", encoding: str = "utf-8"
) -> iter[Row]:
    say = functools.partial(import_messages.text, language=language)
    first = text.readline()
    skipped = 1 if import_format.sep_line(first) else 0  # Excel's "sep=;" line: lines still count it
    reader = csv.reader(text if skipped else itertools.chain([first], text), delimiter=delimiter or ",")
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise FileError("file_header", error=str(exc)) from None
    header = _header_names([h.strip() for h in header], mapping)
    readable = "UTF-8" if encoding.startswith("utf-8") else {"cp1252": "Windows-1252"}.get(encoding, encoding)
    while True:
        line = reader.line_num + 1 + skipped
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Row(line, errors=[("_row", say("row_csv", error=str(exc)))])
            continue
        if not record or not any(cell.strip() for cell in record):
            continue
        if len(record) > len(header):
            yield Row(line, errors=[("_row", say("row_columns", got=len(record), want=len(header)))])
            continue
        # LibreOffice, Google Sheets (a ragged range) and hand edits leave out a row's empty last cells.
        record += [""] * (len(header) - len(record))
        if any("\ufffd" in cell for cell in record):
            yield Row(line, errors=[("_row", say("row_text", encoding=readable))])
            continue
        data, consent = _split_consent(
            {h: (cell if cell.strip() else None) for h, cell in zip(header, record) if h is not None}
        )
        yield Row(line, _shape(data), consent=consent)


def jsonl_rows(text, language: str = "en") -> iter[Row]:
    say = functools.partial(import_messages.text, language=language)
    for line, raw in enumerate(text, 1):
        if not raw.strip():
            continue
        if "\ufffd" in raw:
            yield Row(line, errors=[("_row", say("row_text", encoding="UTF-8"))])
            continue
        if too_deep(raw):
            yield Row(line, errors=[("_row", f"nests deeper than {MAX_DEPTH} levels")])
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield Row(line, errors=[("_row", say("row_json", error=exc.msg, column=exc.colno))])
            continue
        except ValueError as exc:  # a number of too many digits
            yield Row(line, errors=[("_row", f"is not valid JSON: {exc}")])
            continue
        if not isinstance(data, dict):
            yield Row(line, errors=[("_row", say("row_object"))])
            continue
        data, consent = _split_consent(data)
        if any(value is not None and not isinstance(value, str) for value in consent.values()):
            yield Row(line, errors=[("consent", say("row_consent_strings"))])
            continue
        unknown = [k for k in data if k not in JSON_KEYS and not PREFIXED.match(k)]
        if unknown:
            yield Row(
                line,
                errors=[(k, import_messages.reason("is not a profile field", language)) for k in unknown],
            )
            continue
        if isinstance(data.get("location"), dict):
            loc = data.pop("location")
            data["lat"], data["lng"] = loc.get("lat"), loc.get("lng")
        yield Row(
            line, _shape(data), consent={k: (v if v and v.strip() else None) for k, v in consent.items()}
        )
