"""The customer's record: contact data, locale, place, handles, stage, facts."""

from __future__ import annotations

import mongoengine as me

from shared import normalize
from shared.store import utcnow

STAGES = ("lead", "prospect", "customer", "churned")
LOCALE_RE = r"^[a-z]{2}(-[A-Z]{2})?$"
# Where a customer's time zone came from. Only a given one (by the customer or a marketer) stays
# when the country changes; the others follow the country: "country" (its only zone), "guess"
# (the main zone of a country with several), "default" (no country: the service's default).
ZONE_ORIGINS = ("given", "country", "guess", "default")
# The zone of a customer nothing else places (origin "default").
DEFAULT_ZONE = "Europe/Madrid"


class PurchaseSummary(me.EmbeddedDocument):
    count = me.IntField(default=0, min_value=0)
    total = me.DecimalField(default=0, precision=2, min_value=0)
    currency = me.StringField(default="EUR", max_length=3)
    last_at = me.DateTimeField()


class Suppression(me.EmbeddedDocument):
    """Why this person must not be messaged, whatever their consents say."""

    bounced = me.BooleanField(default=False)
    complained = me.BooleanField(default=False)
    do_not_contact = me.BooleanField(default=False)
    reason = me.StringField()
    at = me.DateTimeField()

    @property
    def any(self) -> bool:
        return bool(self.bounced or self.complained or self.do_not_contact)


class Customer(me.Document):
    """One person. Written by the segments service; read by every service."""

    external_id = me.StringField(max_length=128)
    email = me.StringField(max_length=254)
    phone = me.StringField(max_length=16, regex=r"^\+[1-9]\d{6,14}$")
    first_name = me.StringField(max_length=200)
    last_name = me.StringField(max_length=200)
    # Folded "first last" (lower case, no accents) for prefix search.
    name_key = me.StringField()
    last_name_key = me.StringField()
    locale = me.StringField(default="es", regex=LOCALE_RE)
    time_zone = me.StringField(default=DEFAULT_ZONE)
    time_zone_origin = me.StringField(choices=ZONE_ORIGINS)  # missing: stored before it was recorded
    country = me.StringField(max_length=2)
    city = me.StringField(max_length=200)
    city_key = me.StringField()
    location = me.PointField()
    social = me.DictField()  # network -> handle (normalised: no '@', lower case)
    social_keys = me.ListField(me.StringField())  # ["x:handle", ...] for lookup by handle
    stage = me.StringField(choices=STAGES, default="lead")
    tags = me.ListField(me.StringField(max_length=100))
    attributes = me.DictField()
    purchases = me.EmbeddedDocumentField(PurchaseSummary, default=PurchaseSummary)
    suppression = me.EmbeddedDocumentField(Suppression, default=Suppression)
    # Current consent, denormalised for segment rules: {"email": {"newsletter": "granted"}}.
    # The ledger (ConsentEntry) and ConsentState are the authority at send time.
    consent = me.DictField()
    # Behaviour facts kept by the segments service from events, for rules.
    facts = me.DictField()
    erased = me.BooleanField(default=False)
    # An erased profile's contacts as suppression hashes, so segments refuses them again at
    # once, from its own data (the mailer's suppression list gets them from customer.erased).
    erased_contacts = me.ListField(me.StringField())
    created_at = me.DateTimeField(default=utcnow)
    updated_at = me.DateTimeField(default=utcnow)

    meta = {
        "collection": "customers",
        "indexes": [
            {"fields": ["external_id"], "unique": True, "sparse": True},
            {"fields": ["email"], "unique": True, "sparse": True},
            {"fields": ["phone"], "sparse": True},
            {"fields": ["erased_contacts"], "sparse": True},
            "name_key",
            "last_name_key",
            "tags",
            "stage",
            "social_keys",
            ("country", "city_key"),
            [("location", "2dsphere")],
            "updated_at",
        ],
    }

    def clean(self):
        self.email = normalize.email(self.email)
        self.first_name = normalize.text(self.first_name)
        self.last_name = normalize.text(self.last_name)
        self.city = normalize.text(self.city)
        self.name_key = normalize.fold(" ".join(filter(None, (self.first_name, self.last_name)))) or None
        self.last_name_key = normalize.fold(self.last_name) or None
        self.city_key = normalize.fold(self.city) or None
        self.social = {
            network.lower(): normalize.handle(h)
            for network, h in (self.social or {}).items()
            if normalize.handle(h)
        }
        self.social_keys = sorted(f"{network}:{h}" for network, h in self.social.items())
        if self.country:
            self.country = self.country.upper()
        self.updated_at = utcnow()

    @property
    def display_name(self) -> str:
        return " ".join(filter(None, (self.first_name, self.last_name))) or (self.email or "")
