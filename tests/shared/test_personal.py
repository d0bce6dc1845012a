"""Phone numbers in free texts analysts read (an SMS provider's failure reason, a consent's
note) are masked as people write them, in Spanish, Mexican and English texts, beside emoji
and right-to-left script; dates, times, amounts and order numbers stay as they are."""

from __future__ import annotations

import pytest

from shared.personal import mask_document, mask_value

MASKED = "+34*******78"  # +34612345678 as the phone field shows it to an analyst


@pytest.mark.parametrize(
    "text, shown",
    [
        ("Llámame al +34 612 34 56 78 por la tarde", f"Llámame al {MASKED} por la tarde"),
        ("tel. +34-612-345-678", f"tel. {MASKED}"),
        ("Su número: (+34) 612-345-678.", f"Su número: {MASKED}."),
        ("+34 (0) 612 345 678", "+34********78"),
        ("WhatsApp (612 345 678) o fijo (91 234 56 78)", f"WhatsApp ({MASKED}) o fijo (+34*******78)"),
        ("móvil 612 345 678, fijo 91 234 56 78", "móvil +34*******78, fijo +34*******78"),
        ("fijo 0034 612345678", f"fijo {MASKED}"),
        ("llamar al 612-34-56-78 o al 6 12 34 56 78", f"llamar al {MASKED} o al {MASKED}"),
        ("Tlf.: 612.34.56.78", f"Tlf.: {MASKED}"),
        ("Teléfono nº 612345678", f"Teléfono nº {MASKED}"),
        # Mexican
        (
            "Cliente de CDMX (+52) 55 1234 5678, prefiere WhatsApp",
            "Cliente de CDMX +52********78, prefiere WhatsApp",
        ),
        ("WhatsApp +52 1 55 1234 5678 después de las 18:00", "WhatsApp +52*********78 después de las 18:00"),
        # English, and numbers a plan reserves (a drama range, a provider's test number)
        ("Call me at +1 (415) 555-2671 after 5pm", "Call me at +14*******71 after 5pm"),
        ("UK: +44 7700 900123", "UK: +44********23"),
        (
            "provider 400 code 21211: The 'To' number +15005550001 is not a valid phone number.",
            "provider 400 code 21211: The 'To' number +15*******01 is not a valid phone number.",
        ),
        ("The 'To' number +34612345678 is not valid", f"The 'To' number {MASKED} is not valid"),
        # beside dates, times and amounts, which stay
        (
            "Llamó el 15/03/2024 a las 10:30 desde el 612 345 678 y pagó 1.234,56 €",
            f"Llamó el 15/03/2024 a las 10:30 desde el {MASKED} y pagó 1.234,56 €",
        ),
        ("2024-03-15 612 345 678", f"2024-03-15 {MASKED}"),
        ("10:30:45 612 345 678", f"10:30:45 {MASKED}"),
        ("pedido 612345678, llamar al 612 345 678", f"pedido 612345678, llamar al {MASKED}"),
        # emoji, right-to-left script and its marks, digits of other scripts
        ("😀📱 +34 612 34 56 78 😀", f"😀📱 {MASKED} 😀"),
        ("👨‍👩‍👧 612345678👍", f"👨‍👩‍👧 {MASKED}👍"),
        ("اتصل بي على \u200f+34 612 34 56 78\u200f شكرا", f"اتصل بي على \u200f{MASKED}\u200f شكرا"),
        ("اتصل على ٦١٢ ٣٤٥ ٦٧٨ شكرا", f"اتصل على {MASKED} شكرا"),
        ("שלום +34 612 34 56 78 תודה", f"שלום {MASKED} תודה"),
        ("tel ６１２３４５６７８", f"tel {MASKED}"),
    ],
)
def test_numbers_as_people_write_them_are_masked(text, shown):
    assert mask_value("note", text) == shown
    assert mask_value("reason", text) == shown


@pytest.mark.parametrize(
    "text, number",
    [
        ("Cliente de CDMX, WhatsApp 55 1234 5678", "55 1234 5678"),
        ("Call me at (415) 555-2671 after 5pm", "(415) 555-2671"),
        ("call 202-555-0147 or later", "202-555-0147"),
        ("Llamar al 011 4321-5678 (Buenos Aires)", "011 4321-5678"),
        ("cel 300 123 4567, Bogotá", "300 123 4567"),
        ("fono 9 8765 4321", "9 8765 4321"),
        ("celular 987 654 321 (Lima)", "987 654 321"),
        ("mobile 07911 123456, UK", "07911 123456"),
    ],
)
def test_numbers_without_a_prefix_are_read_in_the_installations_countries(text, number):
    """A Mexican, US, Argentine, Colombian, Chilean, Peruvian or British number written without
    +prefix is masked by default (phone_regions); read as Spanish only, it stayed visible. Which
    country's code the mask shows is the first plan that has the number (55 1234 5678 is Mexican,
    987 654 321 could be Spanish or Peruvian): the digits are what must not show."""
    masked = mask_value("note", text)
    digits = "".join(ch for ch in number if ch.isdigit())
    assert number not in masked and digits[-6:-2] not in masked and "****" in masked, masked
    if text.startswith(("Cliente", "Call", "call")):  # no Spanish reading: the setting decides
        assert mask_value("note", text, ("ES",)) == text


def test_phone_regions_setting_names_the_variable_on_a_wrong_code():
    from shared.settings import CommonSettings, ConfigError, load

    env = {
        "VINCULO_MONGO_URI": "mongodb://x/y",
        "VINCULO_AMQP_URL": "amqp://g:g@h//",
        "VINCULO_API_KEYS": "key-of-an-admin:admin",
    }
    env["VINCULO_SECRET_KEY"] = "s" * 32
    assert load(CommonSettings, "MAILER", {**env, "VINCULO_PHONE_REGIONS": "mx, ve"}).phone_regions == (
        "MX",
        "VE",
    )
    with pytest.raises(ConfigError, match="VINCULO_MAILER_PHONE_REGIONS must be country codes.*XX"):
        load(CommonSettings, "MAILER", {**env, "VINCULO_MAILER_PHONE_REGIONS": "ES,XX"})


@pytest.mark.parametrize(
    "text",
    [
        "15/03/2024",
        "2024-03-15",
        "2024/03/15",
        "15.03.24",
        "2024-03-15T10:30:00Z",
        "15-03-2024 10:30:45",
        "de 9:00 a 18:30",
        "1.234,56 €",
        "importe 612.345.678,90 €",
        "importe 612.345.678 €",
        "€ 912.345.678",
        "total $1,234.56",
        "saldo +1.234,56 €",
        "612345678 pesos",
        "pedido 612345678",
        "Pedido nº 912 345 678",
        "nº de pedido: 600123456",
        "order no. 712345678",
        "Order #612345678 shipped",
        "ref: 612345678",
        "factura 2024031512",
        "tracking 1Z999AA10123456784",
        "DNI 12345678Z, CP 28013",
        "IBAN ES91 2100 0418 4502 0005 1332",
        "timestamp 1710498600",
        "v 2.10.3, IP 192.168.100.200",
        "550 5.1.1 user unknown",
        "pedido 15/03/2024 a las 10:30, importe 1.234,56 €, pedido nº 100234567 📦",
        "بتاريخ 15/03/2024 الساعة 10:30",
    ],
)
def test_dates_times_amounts_and_order_numbers_are_left_as_they_are(text):
    assert mask_value("note", text) == text


def test_emails_and_numbers_in_one_text_and_in_a_document():
    reason = "550 <ana.garcía@ejemplo.es>: llame al +34 612 34 56 78 antes del 15/03/2024"
    assert mask_value("reason", reason) == f"550 <a***@ejemplo.es>: llame al {MASKED} antes del 15/03/2024"
    masked = mask_document({"items": [{"note": "WhatsApp 612 345 678", "status": "612 345 678"}]})
    assert masked == {"items": [{"note": f"WhatsApp {MASKED}", "status": "612 345 678"}]}  # free text only


def test_texts_without_a_number_and_odd_texts_pass_unchanged():
    for text in ("", "sin número", "🙂" * 500, "\u202e612\u202c", "+" * 100, "1" * 6, "a1b2c3d4e5f6g7"):
        assert mask_value("note", text) == text
    long = "Llame al 612 345 678. " * 200  # a long note: every number masked
    assert mask_value("note", long) == f"Llame al {MASKED}. " * 200


@pytest.mark.parametrize(
    "text", ["1" * 20_000, "a" * 20_000 + "@tienda.example", "1.2" * 7_000, "6 " * 10_000]
)
def test_a_long_word_or_run_of_digits_is_read_in_linear_time(text):
    """The e-mail search once tried every character of a long word as a start: 5 s for 20,000.
    Timed with one country's plan: each further country of ``phone_regions`` is one more
    pass of the same matcher (a fixed multiple; the patterns' own cost is what can explode)."""
    import time

    started = time.perf_counter()
    mask_value("note", text, ("ES",))
    assert time.perf_counter() - started < 1.5


def test_attributes_named_in_any_case_or_language_and_free_text_in_them_are_masked():
    """Analysts read attributes a marketer or an import named: "Email", "correo", "Teléfono
    móvil", "Apellidos" are the personal fields they mean; any other attribute's text and a
    tag are free text, whose addresses and numbers are masked."""
    customer = {
        "first_name": "Ñandú",
        "attributes": {
            "Email": "hidden@ejemplo.es",
            "correo": "otra@ejemplo.es",
            "Teléfono móvil": "+34 699 111 222",
            "Apellidos": "Pérez Núñez",
            "nota": "llamar al 612 345 678 o escribir a nota@ejemplo.es",
            "plan": "oro",
            "visits": 3,
            "nested": {"WhatsApp": "+52 55 1234 5678"},
        },
        "tags": ["vip", "tag@ejemplo.es"],
    }
    masked = mask_document(customer)
    shown = str(masked)
    for personal in ("hidden@", "otra@", "699 111", "Pérez", "612 345 678", "nota@", "1234 5678", "tag@"):
        assert personal not in shown, personal
    assert masked["attributes"]["Email"] == "h***@ejemplo.es"
    assert masked["attributes"]["Apellidos"] == "P***"
    assert masked["attributes"]["plan"] == "oro" and masked["attributes"]["visits"] == 3
    assert masked["tags"][0] == "vip" and masked["first_name"] == "Ñandú"


@pytest.mark.parametrize(
    "field, personal",
    [
        ("attributes.Email", True),
        ("attributes.E-mail", True),
        ("attributes.telefono", True),
        ("attributes.Teléfono móvil", True),
        ("attributes.APELLIDOS", True),
        ("attributes.plan", False),
        ("attributes.emails_sent", False),
        ("city", False),
    ],
)
def test_a_personal_field_is_known_by_its_meaning_not_its_spelling(field, personal):
    from shared.personal import is_personal

    assert is_personal(field) is personal
