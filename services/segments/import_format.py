"""Reading a file as a spreadsheet user saved it: the encoding (UTF-8 with or
without BOM, UTF-16 with BOM, else Windows-1252, what Excel in Spain writes),
the CSV delimiter (``;``, ``,`` or tab, or the one Excel's first line ``sep=;`` names), and a proposed mapping from the
header's names in Spanish or English to profile fields. A mapping confirmed
by the user is kept per header (``ImportMapping``) and proposed the next time
the same header comes."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re

from shared import normalize

DELIMITERS = (";", ",", "\t")
ENCODINGS = ("utf-8-sig", "utf-16", "cp1252")
SAMPLE_ROWS = 5

# Header names (folded: lower case, no accents, spaces for - and _) -> profile field.
ALIASES: dict[str, str] = {}
for field, names in {
    "external_id": (
        "external id",
        "id externo",
        "id",
        "codigo",
        "codigo cliente",
        "customer id",
        "id cliente",
    ),
    "email": (
        "email",
        "e mail",
        "mail",
        "correo",
        "correo electronico",
        "email address",
        "direccion de correo",
        "correo e",
        "e mail address",
    ),
    "phone": (
        "phone",
        "telefono",
        "movil",
        "celular",
        "mobile",
        "tel",
        "telefono movil",
        "phone number",
        "mobile phone",
        "mobile phone number",
        "mobile number",
        "cell phone",
        "numero de telefono",
        "numero de movil",
    ),
    "first_name": ("first name", "firstname", "name", "nombre", "given name", "nombre de pila"),
    "last_name": ("last name", "lastname", "surname", "family name", "apellidos", "apellido"),
    "locale": ("locale", "language", "idioma", "lengua"),
    "time_zone": ("time zone", "timezone", "tz", "zona horaria", "huso horario"),
    "country": ("country", "pais", "country code", "codigo pais", "country region", "pais region"),
    "city": ("city", "ciudad", "localidad", "poblacion", "town", "municipio"),
    "stage": ("stage", "etapa", "fase"),
    "tags": ("tags", "tag", "etiquetas", "etiqueta", "labels"),
    "lat": ("lat", "latitude", "latitud"),
    "lng": ("lng", "lon", "long", "longitude", "longitud"),
    "consent.source": (
        "consent source",
        "consentimiento fuente",
        "consentimiento origen",
        "origen consentimiento",
        "fuente consentimiento",
    ),
    "consent.date": ("consent date", "consentimiento fecha", "fecha consentimiento"),
    "consent.wording": (
        "consent wording",
        "consentimiento texto",
        "consentimiento version",
        "texto consentimiento",
    ),
    "consent.ip": ("consent ip", "consentimiento ip", "ip consentimiento"),
    "consent.form": ("consent form", "consentimiento formulario", "formulario consentimiento"),
}.items():
    for name in names:
        ALIASES[name] = field


def fold_header(name: str) -> str:
    """Lower case, no accents, one space for runs of spaces, -, _ and /, without a form's
    required mark or colon ("Correo-e*:" -> "correo e")."""
    return re.sub(r"[\s*:]+$", "", " ".join(_spaced(name).replace("/", " ").split()))


def _spaced(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", normalize.fold(name or "")).strip()


def propose(name: str) -> str | None:
    """The profile field a header name means, or None when it is not known."""
    raw = (name or "").strip()
    if re.fullmatch(r"(attributes|social)\.[A-Za-z0-9_\-]{1,64}", raw):
        return raw
    spaced = fold_header(raw.replace(".", " "))
    consent = re.fullmatch(r"(?:consent|consentimiento) (email|sms) (newsletter|promotions|service)", spaced)
    if consent:
        return f"consent.{consent.group(1)}.{consent.group(2)}"
    return ALIASES.get(fold_header(raw)) or ALIASES.get(spaced)


def signature(header: list[str]) -> str:
    """The same header (names folded, in order) -> the same saved mapping."""
    # Folded as when mappings were first saved, so a saved one is still found.
    return hashlib.sha256("\x1f".join(_spaced(h) for h in header).encode()).hexdigest()[:32]


def detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError as exc:
        # A chunk may end inside a character: only an error before the last 3 bytes counts.
        if exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data":
            return "utf-8-sig"
    return "cp1252"


_SEP_LINE = re.compile(r"sep=([;,\t|])[ \t]*", re.IGNORECASE)


def sep_line(line: str) -> str | None:
    """The delimiter Excel's first line ``sep=;`` names (it is no header), else None."""
    match = _SEP_LINE.fullmatch(line.rstrip("\r\n").lstrip("\ufeff"))
    return match.group(1) if match else None


def _first_lines(text: str, count: int = 6) -> list[str]:
    lines = text.splitlines()
    if lines and sep_line(lines[0]):
        lines = lines[1:]
    return lines[:count]


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the header and the next lines the same way (most columns wins),
    or the one a ``sep=`` first line names."""
    named = sep_line(text.split("\n", 1)[0])
    if named:
        return named
    lines = [line for line in _first_lines(text) if line.strip()]
    if not lines:
        return ","
    best, best_columns = ",", 1
    for delimiter in DELIMITERS:
        widths = [len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)]
        if not widths or widths[0] < 2:
            continue
        # A row may leave out its empty last cells (LibreOffice, Google Sheets, a hand edit), never
        # have more than the header; the last line may be cut.
        consistent = all(width <= widths[0] for width in widths[: len(lines) - 1])
        if consistent and widths[0] > best_columns:
            best, best_columns = delimiter, widths[0]
    return best


def preview(sample: bytes, fmt: str) -> dict:
    """What the upload's first bytes tell: encoding, delimiter, header and the first rows."""
    encoding = detect_encoding(sample)
    text = sample.decode(encoding, errors="replace")
    if fmt != "csv":
        return {"encoding": encoding, "delimiter": None, "header": None, "sample": []}
    delimiter = detect_delimiter(text)
    lines = _first_lines(text, SAMPLE_ROWS + 2)
    rows = list(csv.reader(io.StringIO("\n".join(lines[: SAMPLE_ROWS + 1])), delimiter=delimiter))
    header = [h.strip() for h in rows[0]] if rows else []
    return {
        "encoding": encoding,
        "delimiter": delimiter,
        "header": header,
        # A row without its empty last cells is shown (and read, import_rows) with them empty.
        "sample": [row + [""] * (len(header) - len(row)) for row in rows[1 : SAMPLE_ROWS + 1]],
    }
