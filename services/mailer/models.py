"""The mailer's own documents: templates and their versions, deliveries,
and the per-provider rate-limit windows.

Templates: the ``templates`` document is what other services read (``_id``,
``name``, ``channel``, ``archived``); each saved edit is an immutable
``TemplateVersion`` (number 1, 2, ...) holding one variant per locale. A send
uses the latest *published* version unless the request pins one. Versions
are separate documents (not an array on the template) so that saving one is
a single insert with a unique (template, number) key.
"""

from __future__ import annotations

import mongoengine as me

from shared.store import utcnow

CHANNELS = ("email", "sms")
DELIVERY_STATUSES = ("queued", "sending", "deferred", "sent", "failed", "bounced", "skipped")


class Template(me.Document):
    name = me.StringField(required=True, max_length=200)
    channel = me.StringField(required=True, choices=CHANNELS)
    archived = me.BooleanField(default=False)
    description = me.StringField(max_length=2000)
    fallback_locale = me.StringField(default="es", max_length=5)
    latest_version = me.IntField(default=0)
    published_version = me.IntField()
    # The marketing topic a template is for ("newsletter", "promotions"): publishing it then
    # needs the unsubscribe footer. Empty: not said (checked when a campaign sends it).
    topic = me.StringField(max_length=50)
    # The draft being edited: {variants, fallback_locale, sample, compiled, saved_at}; a
    # publish turns it into a new version. Sends never read it.
    draft = me.DictField()
    created_at = me.DateTimeField(default=utcnow)
    updated_at = me.DateTimeField(default=utcnow)

    meta = {"collection": "templates", "indexes": ["name", "archived"]}


class TemplateVersion(me.Document):
    """One saved edit. ``variants``: locale -> {subject, text, html, from_name} or {text} for SMS,
    or {subject, from_name, preheader, blocks} for an e-mail built from blocks; ``compiled`` then
    holds what sends render (locale -> {subject, html, text, from_name}), compiled once at save."""

    template_id = me.ObjectIdField(required=True)
    number = me.IntField(required=True, min_value=1)
    variants = me.DictField(required=True)
    compiled = me.DictField()
    fallback_locale = me.StringField(required=True, max_length=5)
    # Placeholder values for previews without a customer.
    sample = me.DictField()
    published = me.BooleanField(default=False)
    published_at = me.DateTimeField()
    created_at = me.DateTimeField(default=utcnow)

    meta = {
        "collection": "template_versions",
        "indexes": [{"fields": ["template_id", "number"], "unique": True}],
    }


class Delivery(me.Document):
    """One message to one customer for one campaign step; unique, so never sent twice.

    Life: queued/sending -> sent | failed | skipped; deferred -> sending later;
    sent -> bounced. ``sending`` is a claim (``claim`` names the worker and
    ``claimed_at`` starts its lease).
    """

    campaign_id = me.StringField(required=True, max_length=64)
    customer_id = me.ObjectIdField(required=True)
    step = me.StringField(required=True, max_length=100)
    variant = me.StringField(max_length=50)
    channel = me.StringField(required=True, choices=CHANNELS)
    topic = me.StringField(required=True, max_length=50)
    marketing = me.BooleanField(default=True)
    template_id = me.ObjectIdField(required=True)
    template_version = me.IntField()
    status = me.StringField(required=True, choices=DELIVERY_STATUSES)
    reason = me.StringField(max_length=500)
    # The short reason counted in results (skipped, failed, deferred): see shared.messaging.contracts.
    code = me.StringField(max_length=50)
    claim = me.StringField(max_length=64)
    claimed_at = me.DateTimeField()
    due_at = me.DateTimeField()
    attempts = me.IntField(default=0)
    # Set when a delivery left 'sending' by a dead worker was sent again (at-least-once).
    recovered = me.BooleanField(default=False)
    address = me.StringField(max_length=254)
    sent_at = me.DateTimeField()
    provider_id = me.StringField(max_length=200)
    opened_at = me.DateTimeField()
    clicked_at = me.DateTimeField()
    bounced_at = me.DateTimeField()
    # The customer was erased: address and reason are gone, the outcome stays (store.deliveries).
    erased = me.BooleanField(default=False)
    created_at = me.DateTimeField(default=utcnow)

    meta = {
        "collection": "deliveries",
        "indexes": [
            {"fields": ["campaign_id", "customer_id", "step"], "unique": True},
            # frequency cap: marketing messages per customer since a time
            ("customer_id", "marketing", "sent_at"),
            # the sweeper: due deferred ones, stale claims
            ("status", "due_at"),
            ("status", "claimed_at"),
            ("campaign_id", "step", "status"),
        ],
    }


class RateWindow(me.Document):
    """Messages handed to one provider in one second, across every worker."""

    provider = me.StringField(required=True)
    second = me.IntField(required=True)
    count = me.IntField(default=0)
    expires_at = me.DateTimeField()

    meta = {
        "collection": "rate_windows",
        "indexes": [
            {"fields": ["provider", "second"], "unique": True},
            {"fields": ["expires_at"], "expireAfterSeconds": 0},
        ],
    }


from services.mailer.prefs_models import DOCUMENTS as _PREFS  # noqa: E402 - the preference center's collections

DOCUMENTS = (Template, TemplateVersion, Delivery, RateWindow, *_PREFS)
