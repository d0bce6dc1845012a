"""What an import tells the person who uploaded the file, in their language
(the job's ``language``: es or en). Rejections are stored already worded, so
the report (CSV or page) reads the same everywhere."""

from __future__ import annotations

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
}


def text(code: str, language: str = "en", **params) -> str:
    table = MESSAGES[code]
    return table.get(language, table["en"]).format(**params)
