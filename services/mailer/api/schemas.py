"""Request and response schemas of the mailer API."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Dict, Email, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range, Regexp

from shared.http.paging import AfterAlias, PageQuery, page_of
from shared.models import CHANNELS, CONSENT_STATUSES, TOPICS

LOCALE = Regexp(r"^[a-z]{2}(-[A-Z]{2})?$", error="must look like es or es-MX")


class TemplateIn(Schema):
    name = String(required=True, validate=Length(1, 200))
    channel = String(required=True, validate=OneOf(CHANNELS))
    description = String(load_default="", validate=Length(0, 2000), metadata={"multiline": True})
    fallback_locale = String(load_default="es", validate=LOCALE)
    variants = Dict(
        required=True,
        metadata={"description": "locale -> {subject, text, html, from_name} (email) or {text} (sms)"},
    )
    sample = Dict(load_default=dict, metadata={"description": "sample values for previews and checks"})
    publish = Boolean(load_default=True)
    topic = String(
        validate=OneOf(TOPICS),
        metadata={
            "description": "a marketing topic (newsletter, promotions) needs the footer block to publish"
        },
    )
    draft = Boolean(
        load_default=False, metadata={"description": "keep the content as a draft, no version yet"}
    )


class DraftIn(Schema):
    variants = Dict(
        required=True,
        metadata={
            "description": "as a version's; e-mail variants may be built from "
            "blocks: {subject, from_name, preheader, blocks}"
        },
    )
    fallback_locale = String(validate=LOCALE)
    sample = Dict(load_default=dict)


class PublishIn(Schema):
    topic = String(validate=OneOf(TOPICS), metadata={"description": "the topic campaigns will send it for"})


class VersionIn(Schema):
    variants = Dict(required=True)
    fallback_locale = String(validate=LOCALE)
    sample = Dict(load_default=dict)
    publish = Boolean(load_default=False)


class TemplatePatch(Schema):
    name = String(validate=Length(1, 200))
    description = String(validate=Length(0, 2000), metadata={"multiline": True})
    archived = Boolean()
    topic = String(validate=OneOf(TOPICS))


class ListQuery(PageQuery, AfterAlias):
    channel = String(validate=OneOf(CHANNELS))
    archived = Boolean()


class VersionOut(Schema):
    number = Integer()
    variants = Dict()
    compiled = Dict(metadata={"description": "block variants compiled: locale -> {subject, html, text}"})
    fallback_locale = String()
    sample = Dict()
    published = Boolean()
    published_at = DateTime(format="iso")
    created_at = DateTime(format="iso")


class DraftOut(Schema):
    variants = Dict()
    compiled = Dict()
    fallback_locale = String()
    sample = Dict()
    saved_at = DateTime(format="iso", allow_none=True)
    from_version = Integer(allow_none=True, metadata={"description": "not saved yet: a copy of this version"})


class TemplateOut(Schema):
    id = String()
    name = String()
    channel = String()
    description = String()
    archived = Boolean()
    fallback_locale = String()
    latest_version = Integer()
    published_version = Integer(allow_none=True)
    topic = String(allow_none=True)
    created_at = DateTime(format="iso")
    updated_at = DateTime(format="iso")
    version = Nested(VersionOut, allow_none=True)
    draft = Nested(DraftOut, allow_none=True)


class GalleryItemOut(Schema):
    key = String()
    name = String()
    description = String()
    locales = List(String())


class GalleryOut(Schema):
    items = List(Nested(GalleryItemOut))


class GalleryCopyIn(Schema):
    name = String(validate=Length(1, 200))


TemplatePage = page_of("TemplatePage", TemplateOut)


VersionPage = page_of("VersionPage", VersionOut)


class PreviewIn(Schema):
    customer_id = String(metadata={"description": "render for this customer"})
    sample = Dict(metadata={"description": "or these values (over the version's sample)"})
    locale = String(validate=LOCALE)
    version = Integer(validate=Range(min=1))
    draft = Boolean(load_default=False, metadata={"description": "render the draft (else the version)"})


class SmsInfoOut(Schema):
    encoding = String()
    units = Integer()
    segments = Integer()
    per_segment = Integer()


class PreviewOut(Schema):
    locale = String()
    version = Integer()
    subject = String()
    text = String(allow_none=True)
    html = String(allow_none=True)
    from_name = String(allow_none=True)
    sms = Nested(SmsInfoOut, allow_none=True)


class TestSendIn(PreviewIn):
    to = String(
        required=True, validate=Length(3, 254), metadata={"description": "email address or +E.164 phone"}
    )


class TestSendOut(Schema):
    sent = Boolean()
    to = String()
    message_id = String()


class ConsentIn(Schema):
    channel = String(required=True, validate=OneOf(CHANNELS))
    topic = String(required=True, validate=OneOf(TOPICS))
    status = String(required=True, validate=OneOf(CONSENT_STATUSES))
    # Where staff or a system of ours say it came from. preference_center, unsubscribe and
    # double_opt_in are the customer's own acts on the pages their signed links open: only
    # those pages write them, so the ledger cannot show staff's word as the customer's.
    source = String(load_default="api", validate=OneOf(("api", "import", "form", "support")))
    wording_version = String(validate=Length(1, 50))
    ip = String(validate=Length(2, 45))
    note = String(validate=Length(0, 500), metadata={"multiline": True})
    at = DateTime(metadata={"description": "when the customer gave or withdrew it (default now)"})
    idempotency_key = String(validate=Length(1, 200))


class ConsentStateOut(Schema):
    channel = String()
    topic = String()
    status = String()
    at = DateTime(format="iso")
    entry_id = String()


class ConsentEntryOut(Schema):
    id = String()
    channel = String()
    topic = String()
    status = String()
    source = String()
    at = DateTime(format="iso")
    ip = String(allow_none=True)
    wording_version = String(allow_none=True)
    note = String(allow_none=True)


class ConsentsOut(Schema):
    customer_id = String()
    items = List(Nested(ConsentStateOut))


ConsentHistoryOut = page_of("ConsentHistoryOut", ConsentEntryOut)


class HistoryQuery(PageQuery, AfterAlias):
    pass


class DeliveryOut(Schema):
    id = String()
    campaign_id = String()
    customer_id = String()
    step = String()
    variant = String(allow_none=True)
    channel = String()
    topic = String()
    marketing = Boolean()
    status = String()
    reason = String(allow_none=True)
    code = String(
        allow_none=True,
        metadata={
            "description": "why not (yet) sent, as counted in results: "
            "consent_pending, smtputf8_unsupported, ..."
        },
    )
    stuck = Boolean(
        metadata={"description": "sending, and its claim older than the lease: no worker holds it"}
    )
    attempts = Integer()
    recovered = Boolean()
    due_at = DateTime(format="iso", allow_none=True)
    sent_at = DateTime(format="iso", allow_none=True)
    opened_at = DateTime(format="iso", allow_none=True)
    clicked_at = DateTime(format="iso", allow_none=True)
    bounced_at = DateTime(format="iso", allow_none=True)
    address = String(allow_none=True)
    erased = Boolean(
        metadata={"description": "the customer was erased: address and reason are gone, the outcome stays"}
    )


class DeliveryQuery(PageQuery, AfterAlias):
    campaign_id = String(validate=Length(1, 64))
    customer_id = String()
    status = String()
    code = String(validate=Length(1, 50), metadata={"description": "who was not sent for this reason"})
    step = String()


DeliveryPage = page_of("DeliveryPage", DeliveryOut)


class MailUnsubscribeOut(Schema):
    customer_id = String()
    channel = String()
    topic = String()
    revoked = Boolean(metadata={"description": "false when the customer no longer exists"})


class BounceOut(Schema):
    kind = String(metadata={"description": "hard, soft or complaint"})
    delivery_id = String(allow_none=True)
    address = String(allow_none=True)
    suppressed = Boolean()
    status = String(allow_none=True)


__all__ = [name for name in dir() if name.endswith(("In", "Out", "Page", "Query", "Patch"))] + ["Email"]
