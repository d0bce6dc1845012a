"""Templates: create, version, draft, publish, list, gallery, preview, test send."""

from __future__ import annotations

import uuid

from apiflask import APIBlueprint

from services.mailer import blocks_gallery, compose
from services.mailer import templates as tpl
from services.mailer.api.common import aware, mailer, settings
from services.mailer.api.schemas import (
    DraftIn,
    GalleryCopyIn,
    GalleryOut,
    ListQuery,
    PreviewIn,
    PreviewOut,
    PublishIn,
    TemplateIn,
    TemplateOut,
    TemplatePage,
    TemplatePatch,
    TestSendIn,
    TestSendOut,
    VersionIn,
    VersionPage,
)
from services.mailer.email_message import SmtpTransport
from services.mailer.models import Template, TemplateVersion
from services.mailer.rendering import LINK_VARIABLES, RenderError, sample_customer
from services.mailer.sms import SmsTransport, segments
from services.mailer.tracking import PreviewLinks
from services.mailer.transport import PermanentFailure, TransientFailure
from shared.http.auth import current_role, mask_personal, roles
from shared.http.errors import ApiError, field_error, not_found
from shared.http.paging import bad_cursor, cursor_id, object_id, raw_cursor
from shared.models import Customer

bp = APIBlueprint("templates", __name__, url_prefix="/templates", tag="templates")


def version_out(version: TemplateVersion | None):
    if version is None:
        return None
    return {
        "number": version.number,
        "variants": version.variants,
        "compiled": version.compiled or {},
        "fallback_locale": version.fallback_locale,
        "sample": version.sample,
        "published": version.published,
        "published_at": aware(version.published_at),
        "created_at": aware(version.created_at),
    }


def draft_out(draft: dict | None):
    if not draft:
        return None
    return {**draft, "saved_at": aware(draft.get("saved_at"))}


def template_out(template: Template, version: TemplateVersion | None = None, draft: bool = False):
    return {
        "id": str(template.id),
        "name": template.name,
        "channel": template.channel,
        "description": template.description or "",
        "archived": template.archived,
        "fallback_locale": template.fallback_locale,
        "latest_version": template.latest_version,
        "published_version": template.published_version,
        "topic": template.topic,
        "created_at": aware(template.created_at),
        "updated_at": aware(template.updated_at),
        "version": version_out(version),
        "draft": draft_out(tpl.start_draft(template)) if draft else None,
    }


def load_template(template_id, *, editable: bool = False) -> Template:
    """The template, or 404; ``editable``: 409 when it is archived (no new draft or version)."""
    template = Template.objects(id=object_id(template_id, "template")).first()
    if template is None:
        raise not_found("template", template_id)
    if editable and template.archived:
        raise ApiError(409, "the template is archived", error="conflict")
    return template


def invalid(exc: tpl.TemplateInvalid) -> ApiError:
    """422 naming the fields; block problems also in ``details.blocks`` with Spanish and English text."""
    named = ", ".join(sorted(exc.fields))
    if exc.blocks:
        first = exc.blocks[0]
        return ApiError(
            422,
            f"{first.en} / {first.es}",
            error="validation_error",
            location="json",
            fields=exc.fields,
            blocks=[p.as_detail() for p in exc.blocks],
        )
    return ApiError(
        422, f"Invalid json: {named}", error="validation_error", location="json", fields=exc.fields
    )


def footer_missing(exc: tpl.FooterMissing) -> ApiError:
    """422 naming the block that is missing, per locale, in Spanish and English."""
    problems = [
        {
            "field": f"variants.{locale}.blocks",
            "es": f"falta el bloque pie (con los enlaces de baja y de preferencias) en «{locale}»: "
            f"una plantilla de {exc.topic} no se puede publicar sin él",
            "en": f"the footer block (with the unsubscribe and preference-center links) is missing in "
            f"'{locale}': a {exc.topic} template cannot be published without it",
        }
        for locale in exc.locales
    ]
    return ApiError(
        422,
        f"{problems[0]['en']} / {problems[0]['es']}",
        error="footer_missing",
        location="json",
        fields={p["field"]: [p["en"]] for p in problems},
        blocks=problems,
        missing_block="footer",
    )


@bp.post("")
@roles("marketer")
@bp.input(TemplateIn)
@bp.output(TemplateOut, status_code=201)
def create_template(json_data):
    """Create a template with its first version (checked by rendering sample data)."""
    try:
        template, version = tpl.create(**json_data)
    except tpl.TemplateInvalid as exc:
        raise invalid(exc) from None
    except tpl.FooterMissing as exc:
        raise footer_missing(exc) from None
    return template_out(template, version, draft=json_data.get("draft", False))


@bp.get("/gallery")
@roles("marketer", "analyst")
@bp.output(GalleryOut)
def gallery():
    """Starting templates (newsletter, offer, welcome, event invitation) in Spanish and English."""
    return {
        "items": [
            {
                "key": key,
                "name": item["name"],
                "description": item["description"],
                "locales": sorted(item["variants"]),
            }
            for key, item in blocks_gallery.GALLERY.items()
        ]
    }


@bp.post("/gallery/<key>")
@roles("marketer")
@bp.input(GalleryCopyIn)
@bp.output(TemplateOut, status_code=201)
def copy_from_gallery(key, json_data):
    """A new template whose draft is a copy of a gallery template, to edit and publish."""
    item = blocks_gallery.GALLERY.get(key)
    if item is None:
        raise not_found("gallery template", key)
    try:
        template, _ = tpl.create(
            name=json_data.get("name") or item["name"],
            channel="email",
            variants=blocks_gallery.variants(key),
            fallback_locale="es",
            description=item["description"],
            topic=item["topic"],
            draft=True,
        )
    except tpl.TemplateInvalid as exc:  # pragma: no cover - the gallery is checked by its tests
        raise invalid(exc) from None
    return template_out(template, None, draft=True)


@bp.get("")
@roles("marketer", "analyst")
@bp.input(ListQuery, location="query")
@bp.output(TemplatePage)
def list_templates(query_data):
    """List templates, newest last, by cursor."""
    query = Template.objects
    if "channel" in query_data:
        query = query.filter(channel=query_data["channel"])
    if "archived" in query_data:
        query = query.filter(archived=query_data["archived"])
    total = query.count()
    after = cursor_id(query_data)
    if after:
        query = query.filter(id__gt=after)
    items = list(query.order_by("id").limit(query_data["limit"]))
    nxt = str(items[-1].id) if len(items) == query_data["limit"] else None
    return {"items": [template_out(t) for t in items], "total": total, "next": nxt}


@bp.get("/<template_id>")
@roles("marketer", "analyst")
@bp.output(TemplateOut)
def get_template(template_id):
    """A template with the version sends use (published, else latest)."""
    template = load_template(template_id)
    return template_out(template, tpl.version_of(template), draft=True)


@bp.put("/<template_id>/draft")
@roles("marketer")
@bp.input(DraftIn)
@bp.output(TemplateOut)
def save_draft(template_id, json_data):
    """Keep edits as the draft (checked and compiled like a version); what campaigns send is unchanged."""
    template = load_template(template_id, editable=True)
    try:
        tpl.save_draft(template, **json_data)
    except tpl.TemplateInvalid as exc:
        raise invalid(exc) from None
    template.reload()
    return template_out(template, tpl.version_of(template), draft=True)


@bp.delete("/<template_id>/draft")
@roles("marketer")
@bp.output(TemplateOut)
def discard_draft(template_id):
    """Drop the draft; the published version stays as it is."""
    template = load_template(template_id)
    Template.objects(id=template.id).update_one(unset__draft=True)
    template.reload()
    return template_out(template, tpl.version_of(template), draft=True)


@bp.post("/<template_id>/draft/publish")
@roles("marketer")
@bp.input(PublishIn)
@bp.output(TemplateOut)
def publish_draft(template_id, json_data):
    """The draft becomes a new version that campaigns send (a marketing topic needs the footer block)."""
    template = load_template(template_id, editable=True)
    try:
        version = tpl.publish_draft(template, json_data.get("topic"))
    except tpl.FooterMissing as exc:
        raise footer_missing(exc) from None
    if version is None:
        raise ApiError(409, "there is no draft to publish", error="conflict")
    return template_out(template, version, draft=True)


@bp.patch("/<template_id>")
@roles("marketer")
@bp.input(TemplatePatch)
@bp.output(TemplateOut)
def update_template(template_id, json_data):
    """Rename, describe or archive a template (content changes are new versions)."""
    template = load_template(template_id)
    for key, value in json_data.items():
        setattr(template, key, value)
    if "topic" in json_data and template.published_version:
        published = tpl.version_of(template, template.published_version)
        try:
            tpl.check_publishable(template, published.variants if published else {})
        except tpl.FooterMissing as exc:
            raise footer_missing(exc) from None
    from shared.store import utcnow

    template.updated_at = utcnow()
    template.save()
    return template_out(template, tpl.version_of(template))


@bp.get("/<template_id>/versions")
@roles("marketer", "analyst")
@bp.input(ListQuery, location="query")
@bp.output(VersionPage)
def list_versions(template_id, query_data):
    """Every saved version, oldest first."""
    template = load_template(template_id)
    query = TemplateVersion.objects(template_id=template.id)
    total = query.count()
    field, after = raw_cursor(query_data)
    if after:
        try:
            query = query.filter(number__gt=int(after))
        except ValueError:
            raise bad_cursor(field) from None
    items = list(query.order_by("number").limit(query_data["limit"]))
    nxt = str(items[-1].number) if len(items) == query_data["limit"] else None
    return {"items": [version_out(v) for v in items], "total": total, "next": nxt}


@bp.post("/<template_id>/versions")
@roles("marketer")
@bp.input(VersionIn)
@bp.output(TemplateOut, status_code=201)
def add_version(template_id, json_data):
    """Save a new version (checked like a new template); publish it at once if asked."""
    template = load_template(template_id, editable=True)
    try:
        version = tpl.add_version(template, **json_data)
    except tpl.TemplateInvalid as exc:
        raise invalid(exc) from None
    except tpl.FooterMissing as exc:
        raise footer_missing(exc) from None
    template.reload()
    return template_out(template, version)


@bp.post("/<template_id>/versions/<int:number>/publish")
@roles("marketer")
@bp.output(TemplateOut)
def publish(template_id, number):
    """Make this version the one sends use (an older one pins it)."""
    template = load_template(template_id)
    try:
        version = tpl.publish_version(template, number)
    except tpl.FooterMissing as exc:
        raise footer_missing(exc) from None
    if version is None:
        raise not_found("version", number)
    template.reload()
    return template_out(template, version)


def _render(template: Template, data: dict):
    """(version, compiled pack, customer document, extra variables) for a preview or test send.

    With ``draft``, the draft (or, without one, a copy of the published version); its version is 0."""
    if data.get("draft"):
        draft = tpl.start_draft(template)
        if not draft:
            raise not_found("draft", template.id)
        try:
            pack = tpl.draft_pack(template)
        except RenderError as exc:
            raise _render_error(exc) from None
        version = TemplateVersion(
            number=0, sample=draft.get("sample") or {}, fallback_locale=draft["fallback_locale"]
        )
    else:
        version = tpl.version_of(template, data.get("version"))
        if version is None:
            raise not_found("version", data.get("version"))
        pack = tpl.pack(template.id, version.number, template.channel)
    sample = {**(version.sample or {}), **(data.get("sample") or {})}
    # Only profile fields count: a send has nothing else to offer the template.
    customer, _ = sample_customer(sample, data.get("locale") or version.fallback_locale)
    if data.get("customer_id"):
        found = Customer._get_collection().find_one({"_id": object_id(data["customer_id"], "customer")})
        if found is None:
            raise not_found("customer", data["customer_id"])
        customer = dict(found)
        if data.get("locale"):
            customer["locale"] = data["locale"]
    return version, pack, customer, {}


def _render_error(exc: RenderError) -> ApiError:
    where = f"line {exc.line}: " if exc.line else ""
    field = f"variants.{exc.locale}.{exc.field}"
    return ApiError(
        422,
        f"The template does not render: {field}: {where}{exc.message}",
        error="validation_error",
        location="template",
        fields={field: [where + exc.message]},
        line=exc.line,
    )


@bp.post("/<template_id>/preview")
@roles("marketer", "analyst")
@bp.input(PreviewIn)
@bp.output(PreviewOut)
def preview(template_id, json_data):
    """Render for a customer or with sample data; SMS answers its encoding and segments.

    Links are inert samples (``https://example.invalid/...``), never a live
    token; a customer's data shows as the caller's role may see it (masked
    for analysts)."""
    template = load_template(template_id)
    version, pack, customer, extra = _render(template, json_data)
    customer = mask_personal(customer, current_role())
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
        raise _render_error(exc) from None
    out = {
        "locale": locale,
        "version": version.number,
        "subject": rendered.get("subject", ""),
        "text": rendered.get("text"),
        "html": rendered.get("html"),
        "from_name": pack.variants[locale].from_name or settings().from_name,
        "sms": None,
    }
    if template.channel == "sms":
        out["sms"] = segments(rendered["text"]).__dict__
    return out


@bp.post("/<template_id>/test-send")
@roles("marketer")
@bp.input(TestSendIn)
@bp.output(TestSendOut)
def test_send(template_id, json_data):
    """Send the rendered template to one address now (no delivery, consent or cap checks)."""
    template = load_template(template_id)
    version, pack, customer, extra = _render(template, json_data)
    to = json_data["to"].strip()
    links = mailer().links
    test_id = f"test-{template.id}-{version.number}-{uuid.uuid4().hex[:8]}"
    try:
        if template.channel == "email":
            if "@" not in to:
                raise field_error("to", "must be an email address for an email template")
            raw = compose.email_bytes(
                settings(),
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
            transport = SmtpTransport(settings())
            try:
                transport.send(compose.verp(settings(), test_id), to, transport.finish(raw))
            finally:
                transport.close()
            message_id = compose.message_id(settings(), test_id)
        else:
            if not to.startswith("+"):
                raise field_error("to", "must be a phone number in +E.164 form for an SMS template")
            text = compose.sms_text(
                pack,
                customer,
                links,
                customer_id=str(customer.get("_id", "preview")),
                topic="newsletter",
                delivery_id=None,
                extra=extra,
            )
            message_id = SmsTransport(settings()).send(to, text)
    except RenderError as exc:
        raise _render_error(exc) from None
    except PermanentFailure as exc:
        raise ApiError(422, f"The provider refused the message: {exc}", error="rejected") from None
    except TransientFailure as exc:
        raise ApiError(503, f"The provider is unavailable: {exc}") from None
    return {"sent": True, "to": to, "message_id": message_id}
