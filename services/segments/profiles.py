"""Customer profile data as it enters: normalise, build the stored document,
and compute what a change really changes.

The API and the import share these functions, so a row imported and a
profile posted end up stored the same way. Documents are built as plain
dicts (the shape mongoengine's Customer stores, with the same search keys
as ``Customer.clean``) because an import writes them in bulk: building
100,000 mongoengine documents costs more than the store writes.
"""

from __future__ import annotations

import json
import re

import phonenumbers

from services.segments.world import country_code, country_zone, known_locale, zones
from shared import normalize
from shared.models.customer import DEFAULT_ZONE, LOCALE_RE, STAGES
from shared.store import utcnow

# Fields a caller may set (the API schema and the import columns use these names).
SCALARS = (
    "external_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "locale",
    "time_zone",
    "country",
    "city",
    "stage",
)
WRITABLE = SCALARS + ("tags", "attributes", "social", "location")
# A customer is always reachable by one of these (an import row, a POST and a PATCH alike).
IDENTIFIERS = ("external_id", "email", "phone")
# One profile holds at most this many attributes, each at most this large as JSON.
MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_BYTES = 2048
_LOCALE = re.compile(LOCALE_RE)
_ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def normalise(data: dict, default_region: str = "ES") -> tuple[dict, dict[str, str]]:
    """Clean the given fields; returns (values, {field: reason}) and never raises.

    Only fields present in ``data`` appear in ``values``; a blank value is
    None (meaning "no value given" to an import, "clear it" to a PATCH).
    """
    values: dict = {}
    errors: dict[str, str] = {}
    region = _phone_region(data.get("country"), default_region)
    for field, raw in data.items():
        try:
            values[field] = _clean(field, raw, region)
        except ValueError as exc:
            errors[field] = str(exc)
    return values, errors


def _phone_region(country, default_region: str) -> str:
    """Where a national phone number is read: the person's own country when given (a Mexican
    customer's "55 1234 5678" in a file from Spain), else the default."""
    if isinstance(country, str):
        code = country.strip().upper()
        if code in phonenumbers.SUPPORTED_REGIONS:
            return code
    return default_region


def identified(doc: dict) -> bool:
    """Whether ``doc`` (a profile or the values of a new one) has an identifier."""
    return any(doc.get(field) for field in IDENTIFIERS)


def _text(raw) -> str | None:
    """One line of a person's text: controls, unpaired surrogates and bidi overrides refused."""
    return normalize.checked_text(raw)


def _clean(field: str, raw, default_region: str):
    if field == "email":
        return normalize.email(raw)
    if field == "phone":
        return normalize.phone(raw, default_region)
    if field in ("external_id", "first_name", "last_name", "city"):
        # a CR/LF in a name becomes a mail header line; NUL and bidi overrides disguise text
        value = _text(raw)
        limit = 128 if field == "external_id" else 200
        if value is not None and len(value) > limit:
            raise ValueError(f"longer than {limit} characters")
        return value
    if field == "locale":
        value = _text(raw)
        if value is not None and not (_LOCALE.match(value) and known_locale(value)):
            raise ValueError("not a known locale like es or es-MX")
        return value
    if field == "time_zone":
        value = _text(raw)
        if value is not None and value not in zones():
            raise ValueError("not an IANA time zone like Europe/Madrid")
        return value
    if field == "country":
        value = _text(raw)
        if value is not None:
            code = country_code(value)  # "España", "Reino Unido", "mx" as people write them
            if code is None:
                raise ValueError("not an ISO 3166 two-letter country code")
            value = code
        return value
    if field == "stage":
        value = _text(raw)
        if value is not None and value not in STAGES:
            raise ValueError(f"not one of {', '.join(STAGES)}")
        return value
    if field == "tags":
        if raw is None:
            return None
        if isinstance(raw, str):
            raw = [part for part in re.split(r"[;|]", raw)]
        if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
            raise ValueError("must be a list of strings")
        tags = []
        for tag in raw:
            tag = _text(tag)
            if tag is None:
                continue
            if len(tag) > 100:
                raise ValueError("a tag is longer than 100 characters")
            if tag not in tags:
                tags.append(tag)
        return tags
    if field == "attributes":
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise ValueError("must be an object")
        if len(raw) > MAX_ATTRIBUTES:
            raise ValueError(f"more than {MAX_ATTRIBUTES} attributes")
        for key, value in raw.items():
            if not _ATTRIBUTE_KEY.match(key):
                raise ValueError(f"attribute name {key!r} must be letters, digits, _ or - (64 at most)")
            if (
                len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
                > MAX_ATTRIBUTE_BYTES
            ):
                raise ValueError(f"attribute {key} is larger than {MAX_ATTRIBUTE_BYTES} bytes")
        return {
            key: (normalize.checked_text(v, multiline=True) if isinstance(v, str) else v)
            for key, v in raw.items()
        }
    if field == "social":
        if raw is None:
            return None
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            raise ValueError("must map a network to a handle")
        for network, h in raw.items():
            _text(network), _text(h)
        return {network.lower(): normalize.handle(h) for network, h in raw.items() if normalize.handle(h)}
    if field == "location":
        if raw is None:
            return None
        if isinstance(raw, dict):
            raw = [raw.get("lng"), raw.get("lat")]
        try:
            lng, lat = (float(v) for v in raw)
        except (TypeError, ValueError):
            raise ValueError("must be {lat, lng} numbers") from None
        if not (-180 <= lng <= 180 and -90 <= lat <= 90):
            raise ValueError("lat must be within ±90 and lng within ±180")
        return {"type": "Point", "coordinates": [lng, lat]}
    raise ValueError("is not a profile field")


def derived(doc: dict) -> dict:
    """The search keys ``Customer.clean`` keeps, from a (partial) document."""
    name = " ".join(filter(None, (doc.get("first_name"), doc.get("last_name"))))
    social = doc.get("social") or {}
    return {
        "name_key": normalize.fold(name) or None,
        "last_name_key": normalize.fold(doc.get("last_name")) or None,
        "city_key": normalize.fold(doc.get("city")) or None,
        "social_keys": sorted(f"{network}:{handle}" for network, handle in social.items()),
    }


def new_document(values: dict) -> dict:
    """A customers document for ``values`` (already normalised), with every default."""
    now = utcnow()
    doc = {
        "locale": "es",
        "time_zone": DEFAULT_ZONE,
        "social": {},
        "stage": "lead",
        "tags": [],
        "attributes": {},
        "purchases": {"count": 0, "total": 0.0, "currency": "EUR"},
        "suppression": {"bounced": False, "complained": False, "do_not_contact": False},
        "consent": {},
        "facts": {},
        "erased": False,
        "created_at": now,
        "updated_at": now,
    }
    doc.update({key: value for key, value in values.items() if value is not None})
    if values.get("time_zone"):
        doc["time_zone_origin"] = "given"
    else:
        doc["time_zone"], doc["time_zone_origin"] = zone_of(values.get("country"))
    doc.update(derived(doc))
    # Sparse unique indexes: a missing key, never a stored null.
    return {key: value for key, value in doc.items() if value is not None}


def zone_of(country: str | None) -> tuple[str, str]:
    """(time zone, its origin) of a customer who gave none: their country's main zone, else the default.

    Quiet hours and local send times read this zone: a Mexican customer left on Madrid's
    would be messaged at night. With several zones in the country it is a guess (an import warns).
    """
    zone, count = country_zone(country) if country else (None, 0)
    if zone is None:
        return DEFAULT_ZONE, "default"
    return zone, ("guess" if count > 1 else "country")


def _zone_follows(existing: dict, values: dict, replace_empty: bool) -> dict:
    """``values`` with the time zone (and its origin) they bring: a zone given is the customer's
    choice; a new country moves a zone that only came from the old one (or the default)."""
    if values.get("time_zone") is not None:
        return {**values, "time_zone_origin": "given"}
    cleared = replace_empty and "time_zone" in values  # a PATCH's null: no choice any more
    if not cleared:
        if existing.get("time_zone_origin") in (None, "given"):
            return values  # chosen, or stored before the origin was recorded (it may have been chosen)
        if "country" not in values or (values["country"] is None and not replace_empty):
            return values  # the country is not changed (an import's blank cell gives no value)
    country = values["country"] if "country" in values else existing.get("country")
    zone, origin = zone_of(country)
    return {**values, "time_zone": zone, "time_zone_origin": origin}


def merge_changes(existing: dict, values: dict, *, replace_empty: bool = False) -> dict:
    """The ``$set`` that brings ``existing`` up to ``values`` (empty when nothing changes).

    Import semantics (``replace_empty=False``): a blank value keeps what is
    stored, tags are added to the existing ones and attributes merged key by
    key. A PATCH (``replace_empty=True``) clears a field given as null and
    replaces tags and attributes.
    """
    changes: dict = {}
    unset: list[str] = []
    values = _zone_follows(existing, values, replace_empty)
    for field, value in values.items():
        current = existing.get(field)
        if value is None:
            if replace_empty and current not in (None, [], {}):
                if field in ("tags",):
                    changes[field] = []
                elif field in ("attributes", "social"):
                    changes[field] = {}
                else:
                    unset.append(field)
            continue
        if not replace_empty and field == "tags":
            value = list(current or []) + [t for t in value if t not in (current or [])]
        if not replace_empty and field in ("attributes", "social"):
            value = {**(current or {}), **value}
        if value != current:
            changes[field] = value
    if not changes and not unset:
        return {}
    after = {**existing, **changes}
    for field in unset:
        after.pop(field, None)
    for key, value in derived(after).items():
        if existing.get(key) != value:
            changes[key] = value
    update: dict = {}
    sets = {k: v for k, v in changes.items() if v is not None}
    unsets = unset + [k for k, v in changes.items() if v is None]
    if sets:
        update["$set"] = {**sets, "updated_at": utcnow()}
    else:
        update["$set"] = {"updated_at": utcnow()}
    if unsets:
        update["$unset"] = {field: "" for field in unsets}
    return update


def changed_fields(update: dict) -> list[str]:
    """The profile fields an update touches (for customer.updated and membership)."""
    fields = set(update.get("$set", {})) | set(update.get("$unset", {}))
    return sorted(fields - {"updated_at"})
