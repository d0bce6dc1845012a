"""Previews and test sends of a template: a version (or the draft) rendered with sample
data or a real customer's profile, shown, or sent to one address now (no delivery, and
no consent or cap checks). Links in a preview or a test send are inert samples, never a
live token.
"""

from __future__ import annotations

import uuid

from bson import ObjectId
from bson.errors import InvalidId

from services.mailer import compose
from services.mailer import templates as tpl
from services.mailer.models import Template, TemplateVersion
from services.mailer.rendering import LINK_VARIABLES, RenderError, sample_customer
from services.mailer.sms import segments
from services.mailer.store import recipients
from services.mailer.template_checks import DoesNotRender
from services.mailer.tracking import PreviewLinks
from services.mailer.transport import PermanentFailure, TransientFailure
from shared.errors import DomainError, Invalid, NotFound, Unavailable


class ProviderRefused(DomainError):
    """The provider refused a test message (422)."""

    status = 422
    code = "rejected"


def render_input(template: Template, data: dict):
    """(version, compiled pack, customer document, extra variables) for a preview or test send.

    With ``draft``, the draft (or, without one, a copy of the published version); its version is 0."""
    if data.get("draft"):
        draft = tpl.start_draft(template)
        if not draft:
            raise NotFound("draft", template.id)
        try:
            pack = tpl.draft_pack(template)
        except RenderError as exc:
            raise DoesNotRender(exc) from None
        version = TemplateVersion(
            number=0, sample=draft.get("sample") or {}, fallback_locale=draft["fallback_locale"]
        )
    else:
        version = tpl.version_of(template, data.get("version"))
        if version is None:
            raise NotFound("version", data.get("version"))
        pack = tpl.pack(template.id, version.number, template.channel)
    sample = {**(version.sample or {}), **(data.get("sample") or {})}
    # Only profile fields count: a send has nothing else to offer the template.
    customer, _ = sample_customer(sample, data.get("locale") or version.fallback_locale)
    if data.get("customer_id"):
        try:
            found = recipients.profile(ObjectId(data["customer_id"]))
        except (InvalidId, TypeError):
            found = None
        if found is None:
            raise NotFound("customer", data["customer_id"])
        customer = dict(found)
        if data.get("locale"):
            customer["locale"] = data["locale"]
    return version, pack, customer, {}


def preview(template: Template, version, pack, customer: dict, extra: dict, settings) -> dict:
    """The rendered fields (and, for SMS, its encoding and segments)."""
    try:
        locale, rendered, _ = compose.render_for(
            pack,
            customer,
            PreviewLinks(),
            customer_id="sample",
            channel=template.channel,
            topic="newsletter",
            delivery_id=None,
            extra={**extra, **LINK_VARIABLES},
        )
    except RenderError as exc:
        raise DoesNotRender(exc) from None
    out = {
        "locale": locale,
        "version": version.number,
        "subject": rendered.get("subject", ""),
        "text": rendered.get("text"),
        "html": rendered.get("html"),
        "from_name": pack.variants[locale].from_name or settings.from_name,
        "sms": None,
    }
    if template.channel == "sms":
        out["text"] = compose.sms_body(rendered["text"])
        out["sms"] = segments(out["text"]).__dict__
    return out


def test_send(template: Template, data: dict, parts) -> dict:
    """Send the rendered template to ``data["to"]`` now, through a transport of its own."""
    version, pack, customer, extra = render_input(template, data)
    settings = parts.settings
    to = data["to"].strip()
    # The preview's inert links: a test goes to any address, and a live unsubscribe or
    # preference-center link would let whoever holds it act as the customer for 90 days.
    links = PreviewLinks()
    test_id = f"test-{template.id}-{version.number}-{uuid.uuid4().hex[:8]}"
    try:
        if template.channel == "email":
            if "@" not in to:
                raise Invalid("to", "must be an email address for an email template")
            raw = compose.email_bytes(
                settings,
                pack,
                customer,
                links,
                to=to,
                customer_id=str(customer.get("_id", "preview")),
                topic="newsletter",
                delivery_id=test_id,
                track=False,
                extra_headers={"X-Vinculo-Test": "1"},
                extra=extra,
            )
            # a connection per test send: API threads must not share one SMTP session
            transport = parts.open_transport("email")
            try:
                transport.send(compose.verp(settings, test_id), to, transport.finish(raw))
            finally:
                transport.close()
            message_id = compose.message_id(settings, test_id)
        else:
            if not to.startswith("+"):
                raise Invalid("to", "must be a phone number in +E.164 form for an SMS template")
            text = compose.sms_text(
                pack,
                customer,
                links,
                customer_id=str(customer.get("_id", "preview")),
                topic="newsletter",
                delivery_id=None,
                extra=extra,
            )
            transport = parts.open_transport("sms")
            try:
                message_id = transport.send(to, text)
            finally:
                transport.close()
    except RenderError as exc:
        raise DoesNotRender(exc) from None
    except PermanentFailure as exc:
        raise ProviderRefused(f"The provider refused the message: {exc}") from None
    except TransientFailure as exc:
        raise Unavailable(f"The provider is unavailable: {exc}") from None
    return {"sent": True, "to": to, "message_id": message_id}
