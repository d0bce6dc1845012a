"""What an import tells the person who uploaded the file, in their language
(the job's ``language``: es or en). Rejections are stored already worded, so
the report (CSV or page) reads the same everywhere."""

from __future__ import annotations

import re

LANGUAGES = ("es", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "consent_status": {
        "en": "{value!r} is not a consent status: write granted, pending or revoked",
        "es": "«{value}» no es un estado de consentimiento: escribe concedido, pendiente o revocado",
    },
    "consent_text": {
        "en": "has control characters or is too long",
        "es": "tiene caracteres de control o es demasiado largo",
    },
    "consent_ip": {
        "en": "{value!r} is not an IP address",
        "es": "«{value}» no es una dirección IP",
    },
    "consent_date": {
        "en": "{value!r} is not a date (write 2025-03-31 or 31/03/2025)",
        "es": "«{value}» no es una fecha (escribe 2025-03-31 o 31/03/2025)",
    },
    "consent_future": {
        "en": "the consent date is in the future",
        "es": "la fecha del consentimiento es futura",
    },
    "consent_no_source": {
        "en": "the row claims consent without saying where it was collected (consent.source): rejected, "
        "nothing was recorded",
        "es": "la fila declara un consentimiento sin decir dónde se obtuvo (consent.source): rechazada, "
        "no se registró nada",
    },
    "consent_no_date": {
        "en": "a granted consent needs the date it was given (consent.date)",
        "es": "un consentimiento concedido necesita la fecha en que se dio (consent.date)",
    },
    "consent_no_proof": {
        "en": "a granted consent needs a proof: the wording version (consent.wording), the IP (consent.ip) "
        "or the form (consent.form)",
        "es": "un consentimiento concedido necesita una prueba: la versión del texto (consent.wording), "
        "la IP (consent.ip) o el formulario (consent.form)",
    },
    # rows
    "row_csv": {"en": "cannot be read as CSV: {error}", "es": "no se puede leer como CSV: {error}"},
    "row_columns": {
        "en": "has {got} columns; the header has {want}",
        "es": "tiene {got} columnas; la cabecera tiene {want}",
    },
    "row_text": {
        "en": "has characters that cannot be read as {encoding} text",
        "es": "tiene caracteres que no se pueden leer como texto {encoding}",
    },
    "row_json": {
        "en": "is not valid JSON: {error} at column {column}",
        "es": "no es JSON válido: {error} en la columna {column}",
    },
    "row_object": {"en": "must be a JSON object", "es": "debe ser un objeto JSON"},
    "row_consent_strings": {
        "en": "consent.* values must be strings",
        "es": "los valores consent.* deben ser textos",
    },
    "row_no_key": {
        "en": "needs an external_id, email or phone to be merged",
        "es": "necesita un external_id, correo o teléfono para poder unirse",
    },
    "suppressed": {
        "en": "suppressed contact ({reason}): skipped, never re-created",
        "es": "contacto excluido ({reason}): omitido, nunca se vuelve a crear",
    },
    "erased": {"en": "matches an erased customer: skipped", "es": "coincide con un cliente borrado: omitida"},
    "conflict_other": {
        "en": "belongs to another customer ({other}) than the one this row matched",
        "es": "pertenece a otro cliente ({other}) distinto del que coincide con esta fila",
    },
    "conflict_external": {
        "en": "the customer matched by email or phone has external_id {value!r}",
        "es": "el cliente que coincide por correo o teléfono tiene external_id «{value}»",
    },
    "duplicate": {
        "en": "the same person as line {line} of this file ({key}): not merged; keep one row per person",
        "es": "la misma persona que la línea {line} de este archivo ({key}): no se une; deja una fila "
        "por persona",
    },
    "race_created": {
        "en": "another writer created this person meanwhile; run the import again to merge",
        "es": "otro proceso creó a esta persona a la vez; vuelve a importar para unirla",
    },
    "race_email": {
        "en": "another customer took this email meanwhile",
        "es": "otro cliente tomó este correo a la vez",
    },
    "zone_guessed": {
        "en": "no time zone: {zone} guessed from the country {country}, which has {count} zones; check it",
        "es": "sin zona horaria: se supuso {zone} por el país {country}, que tiene {count} zonas; revísala",
    },
    # the file
    "file_unknown_columns": {
        "en": "unknown column(s) {columns}; columns are {known}, attributes.<name>, social.<network> and "
        "consent.<channel>.<topic>",
        "es": "columna(s) desconocida(s) {columns}; las columnas son {known}, attributes.<nombre>, "
        "social.<red> y consent.<canal>.<tema>",
    },
    "file_twice": {
        "en": "the column {column!r} appears twice",
        "es": "la columna «{column}» aparece dos veces",
    },
    "file_header": {
        "en": "the header cannot be read: {error}",
        "es": "no se puede leer la cabecera: {error}",
    },
    "file_chunk": {"en": "part {n} of the upload is missing", "es": "falta la parte {n} del archivo subido"},
    "file_no_key": {
        "en": "no column is mapped to email, phone or external_id: no row could be merged",
        "es": "ninguna columna corresponde a correo, teléfono o external_id: ninguna fila podría unirse",
    },
}

# What profiles.normalise and shared.normalize say (English), in Spanish.
_PROFILE_ES = [
    (r"not a valid email address", "no es una dirección de correo válida"),
    (r"not a phone number", "no es un número de teléfono"),
    (r"not a valid phone number for its country", "no es un número de teléfono válido para su país"),
    (r"longer than (\d+) characters", r"tiene más de \1 caracteres"),
    (r"not a known locale like es or es-MX", "no es un idioma conocido como es o es-MX"),
    (r"not an IANA time zone like Europe/Madrid", "no es una zona horaria IANA como Europe/Madrid"),
    (r"not an ISO 3166 two-letter country code", "no es un código de país ISO 3166 de dos letras"),
    (r"not one of (.*)", r"no es uno de \1"),
    (r"must be a list of strings", "debe ser una lista de textos"),
    (r"a tag is longer than 100 characters", "una etiqueta tiene más de 100 caracteres"),
    (
        r"attribute name (.*) must be letters, digits, _ or - \(64 at most\)",
        r"el nombre de atributo \1 debe tener letras, dígitos, _ o - (64 como máximo)",
    ),
    (r"must be an object", "debe ser un objeto"),
    (r"must map a network to a handle", "debe asociar cada red a un usuario"),
    (r"must be \{lat, lng\} numbers", "lat y lng deben ser números"),
    (r"lat must be within ±90 and lng within ±180", "lat debe estar entre -90 y 90 y lng entre -180 y 180"),
    (r"is not a profile field", "no es un campo del perfil"),
    (r"contains a control character \((U\+[0-9A-F]+)\)", r"contiene un carácter de control (\1)"),
    (r"contains an unpaired surrogate", "contiene un sustituto suelto (texto dañado)"),
    (r"contains a line separator \((U\+[0-9A-F]+)\)", r"contiene un separador de línea (\1)"),
    (
        r"contains a bidirectional control character \((U\+[0-9A-F]+)\)",
        r"contiene un carácter de control bidireccional (\1)",
    ),
]


# Fields whose checks come from a library that words its own reasons (email-validator):
# said in Spanish as a whole, the library's detail kept in brackets.
_FIELD_ES = {"email": "no es una dirección de correo válida", "phone": "no es un número de teléfono válido"}


def reason(english: str, language: str, field: str | None = None) -> str:
    """A reason worded in English by the profile checks, in ``language``."""
    if language != "es":
        return english
    for pattern, spanish in _PROFILE_ES:
        if re.fullmatch(pattern, english):
            return re.sub(pattern, spanish, english)
    if field in _FIELD_ES:
        return f"{_FIELD_ES[field]} ({english})"
    return english


def text(code: str, language: str = "en", **params) -> str:
    table = MESSAGES[code]
    return table.get(language, table["en"]).format(**params)
