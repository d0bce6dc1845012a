"""The text checks every edge uses for a person's data (names, subjects, merge fields)."""

import pytest

from shared import normalize


@pytest.mark.parametrize("value", ["José Pérez", "Ñandú 👍🏽", "محمد", "שָׁלוֹם", "O'Brien-Núñez", "a\u200fb"])
def test_text_from_the_world_passes(value):
    assert normalize.unsafe_character(value) is None
    assert normalize.checked_text(f"  {value} ") == value


@pytest.mark.parametrize(
    "value, problem",
    [
        ("Ana\r\nBcc: x@evil.example", "U+000D"),
        ("Ana\nBcc: x@evil.example", "U+000A"),
        ("Ana\x00", "U+0000"),
        ("Ana\x85", "U+0085"),
        ("evil\u202etxt.exe", "U+202E"),
        ("a\u2066b", "U+2066"),
        ("a\u2028b", "U+2028"),
        ("a\ud800b", "surrogate"),
    ],
)
def test_controls_surrogates_and_overrides_are_refused(value, problem):
    assert problem in normalize.unsafe_character(value)
    with pytest.raises(ValueError, match=problem.replace("+", r"\+")):
        normalize.checked_text(value)


def test_multiline_text_keeps_its_line_breaks_but_not_other_controls():
    assert normalize.checked_text("Hola\r\n\tqué tal", multiline=True) == "Hola\r\n\tqué tal"
    with pytest.raises(ValueError):
        normalize.checked_text("Hola\x1bqué", multiline=True)


def test_header_text_turns_every_refused_character_into_one_space():
    assert normalize.header_text("José\r\nBcc: evil@example.com") == "José Bcc: evil@example.com"
    assert normalize.header_text("a\u202e\u2028b") == "a b"
    assert normalize.header_text("Sofía Núñez") == "Sofía Núñez"
    assert normalize.header_text(None) == ""


@pytest.mark.parametrize(
    "value, region, stored",
    [
        ("+34 600 11 22 33", "ES", "+34600112233"),
        ("600112233", "ES", "+34600112233"),
        ("0034 600 11 22 33", "ES", "+34600112233"),
        ("600.11.22.33", "ES", "+34600112233"),
        ("+34\u00a0600\u00a011\u00a022\u00a033", "ES", "+34600112233"),  # Excel's no-break spaces
        ("(55) 1234 5678", "MX", "+525512345678"),
        ("+52 55 1234 5678", "MX", "+525512345678"),
        # Mexico dropped the mobile "1" after +52 in 2019; address books and WhatsApp keep it.
        ("+52 1 55 1234 5678", "MX", "+525512345678"),
        ("+5215512345678", "ES", "+525512345678"),
        ("521 55 1234 5678", "MX", "+525512345678"),
    ],
)
def test_phone_numbers_as_spain_and_mexico_write_them_are_one_number(value, region, stored):
    assert normalize.phone(value, region) == stored


def test_a_number_that_is_not_one_is_still_refused():
    for value, region in (("+52 1 55 1234", "MX"), ("+52 2 55 1234 5678", "MX"), ("12", "ES")):
        with pytest.raises(ValueError):
            normalize.phone(value, region)
