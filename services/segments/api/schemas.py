"""What the segments API accepts: the request schemas of every blueprint."""

from __future__ import annotations

import datetime

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Dict, Float, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range
from marshmallow import ValidationError

from shared.http.paging import PageQuery
from shared.models.customer import STAGES

# --- customers ----------------------------------------------------------------------


class Location(Schema):
    lat = Float(required=True, validate=Range(min=-90, max=90))
    lng = Float(required=True, validate=Range(min=-180, max=180))


class CustomerIn(Schema):
    external_id = String(allow_none=True)
    email = String(allow_none=True, metadata={"example": "lucia.garcia@example.com"})
    phone = String(allow_none=True, metadata={"description": "E.164, or national in the default country"})
    first_name = String(allow_none=True)
    last_name = String(allow_none=True)
    locale = String(allow_none=True, metadata={"example": "es-MX"})
    time_zone = String(allow_none=True, metadata={"example": "America/Mexico_City"})
    country = String(allow_none=True, metadata={"example": "MX"})
    city = String(allow_none=True)
    location = Nested(Location, allow_none=True)
    social = Dict(keys=String(), values=String(), allow_none=True, metadata={"example": {"x": "lucia"}})
    stage = String(allow_none=True, validate=OneOf(STAGES))
    tags = List(String(), allow_none=True)
    attributes = Dict(allow_none=True)


class SearchIn(PageQuery):
    email = String(metadata={"description": "exact address (normalised)"})
    phone = String(metadata={"description": "exact number (normalised to E.164)"})
    name = String(
        validate=Length(min=1, max=100),
        metadata={"description": "prefix of first or last name; accents, ñ and case ignored"},
    )
    tag = String()
    stage = String(validate=OneOf(STAGES))


# ISO 4217 codes that are no money a customer pays in: "no currency", testing, metals, drawing rights.
NOT_MONEY = {"XXX", "XTS", "XAU", "XAG", "XPT", "XPD", "XDR", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA"}


def _currency(value: str) -> None:
    from babel.numbers import is_currency

    if not is_currency(value.upper()) or value.upper() in NOT_MONEY:
        raise ValidationError("Not an ISO 4217 currency code such as EUR, MXN or USD.")


def _not_future(value: datetime.datetime) -> None:
    moment = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    if moment > datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5):
        raise ValidationError("Must not be in the future.")


class PurchaseIn(Schema):
    order_id = String(required=True, validate=Length(min=1, max=100))
    amount = Float(required=True, validate=Range(min=0, max=10_000_000))
    currency = String(load_default="EUR", validate=[Length(equal=3), _currency])
    purchased_at = DateTime(
        load_default=None,
        validate=_not_future,
        metadata={"description": "ISO 8601, not in the future; default now"},
    )
    summary = String(load_default=None, validate=Length(max=500))


class ViewIn(Schema):
    interactions = Integer(
        load_default=20,
        validate=Range(min=1, max=200),
        metadata={"description": "how many of the latest interactions"},
    )


# --- places -------------------------------------------------------------------------


class PlacesIn(Schema):
    q = String(
        required=True,
        validate=Length(min=1, max=100),
        metadata={"description": "start of a city's name; accents and case ignored ('mala' finds Málaga)"},
    )
    limit = Integer(load_default=10, validate=Range(min=1, max=50))


# --- segments -----------------------------------------------------------------------


class SegmentIn(Schema):
    name = String(required=True, validate=Length(min=1, max=200))
    description = String(load_default=None, validate=Length(max=2000), metadata={"multiline": True})
    kind = String(load_default="dynamic", validate=OneOf(("dynamic", "static")))
    rule = Dict(
        load_default=None,
        metadata={
            "description": "the rule tree (dynamic segments); see README",
            "example": {"all": [{"field": "country", "op": "eq", "value": "ES"}]},
        },
    )


class SegmentPatch(Schema):
    name = String(validate=Length(min=1, max=200))
    description = String(allow_none=True, validate=Length(max=2000), metadata={"multiline": True})
    rule = Dict()


class PreviewIn(Schema):
    rule = Dict(required=True)
    sample = Integer(load_default=10, validate=Range(min=0, max=100))


class MembersIn(Schema):
    customer_ids = List(String(), load_default=list)
    emails = List(String(), load_default=list)
    external_ids = List(String(), load_default=list)
    remove = Boolean(load_default=False, metadata={"description": "true: take these people out"})


# --- imports ------------------------------------------------------------------------


class ImportQuery(Schema):
    format = String(
        load_default=None,
        validate=OneOf(("csv", "jsonl")),
        metadata={"description": "csv or jsonl; default from the file name"},
    )
    default_country = String(
        load_default=None,
        validate=Length(equal=2),
        metadata={"description": "for phone numbers without +prefix; default ES"},
    )
    filename = String(load_default=None, validate=Length(max=300))
    lang = String(
        load_default="en",
        validate=OneOf(("es", "en")),
        metadata={"description": "language of the reasons in the report of rejected rows"},
    )
    review = Boolean(
        load_default=False,
        metadata={
            "description": "CSV only: stop after the upload with the detected encoding, delimiter, the first rows "
            "and a proposed mapping (status `mapping`); POST /imports/<id>/start runs it"
        },
    )


class StartIn(Schema):
    mapping = Dict(
        keys=String(),
        values=String(allow_none=True),
        required=True,
        metadata={"description": "every column of the header -> a field, or null/empty to ignore it"},
    )
    remember = Boolean(
        load_default=True, metadata={"description": "propose this mapping for the same header"}
    )


class SpreadsheetQuery(Schema):
    excel = Boolean(
        load_default=False,
        metadata={
            "description": "true: for Excel set up in Spanish (UTF-8 with a byte-order mark, cells separated "
            "by ';'), which shows a plain UTF-8 CSV as 'JosÃ©' in one column"
        },
    )
