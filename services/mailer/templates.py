"""Templates: create, version, draft, publish (the compiled form sends use: ``packs``).

A template's versions are immutable once saved. Variants built
from blocks (``services.mailer.blocks``) are compiled to HTML and text once,
when the version (or the draft) is saved; a send renders the stored result.

Editing happens on the template's draft (``save_draft``): previews and test
sends may use it, sends never do; ``publish_draft`` makes it a new published
version. A campaign step keeps the version its first batch was sent with
(``version_for_send``), so publishing while it runs changes nothing it sends.
"""

from __future__ import annotations

from bson import ObjectId
from bson.errors import InvalidId

from services.mailer.models import Template, TemplateVersion
from services.mailer.packs import Pack, pack, version_for_send
from services.mailer.rendering import RenderError, compile_variant
from services.mailer.store import templates as store
from services.mailer.template_checks import FooterMissing, TemplateInvalid, check_publishable, validate
from shared.errors import Conflict, NotFound
from shared.store import utcnow


def load(template_id, *, editable: bool = False) -> Template:
    """The template with this id; ``editable``: refused (409) when it is archived (no new draft
    or version)."""
    try:
        template = store.get(ObjectId(template_id))
    except (InvalidId, TypeError):
        template = None
    if template is None:
        raise NotFound("template", template_id)
    if editable and template.archived:
        raise Conflict("the template is archived")
    return template


def page(filters: dict, after, limit: int) -> tuple[list[Template], int]:
    """Templates by ``channel`` and ``archived`` (those given), oldest first after the cursor; the total."""
    return store.page(filters, after, limit)


def versions_page(template: Template, after: int | None, limit: int) -> tuple[list[TemplateVersion], int]:
    """The template's versions after number ``after``, oldest first; how many it has."""
    return store.versions_page(template.id, after, limit)


def update(template: Template, changes: dict) -> Template:
    """Rename, describe, archive or give a topic (a topic needing a footer is checked against the
    published version); content changes are new versions."""
    for key, value in changes.items():
        setattr(template, key, value)
    if "topic" in changes and template.published_version:
        published = version_of(template, template.published_version)
        check_publishable(template, published.variants if published else {})
    template.updated_at = utcnow()
    template.save()
    return template


def discard_draft(template: Template) -> None:
    """Drop the draft; the published version stays as it is."""
    store.drop_draft(template.id)
    template.reload()


def create(
    *,
    name: str,
    channel: str,
    variants: dict,
    fallback_locale: str = "es",
    description: str = "",
    sample: dict | None = None,
    publish: bool = True,
    topic: str | None = None,
    draft: bool = False,
) -> tuple[Template, TemplateVersion | None]:
    """A new template with its first version, or (``draft``) with only a draft to edit."""
    compiled = validate(channel, variants, fallback_locale, sample)
    template = Template(
        name=name,
        channel=channel,
        description=description,
        fallback_locale=fallback_locale,
        topic=topic or None,
    )
    if publish and not draft:
        check_publishable(template, variants)
    if draft:
        template.draft = _draft_doc(variants, fallback_locale, sample, compiled)
        template.save()
        return template, None
    template.save()
    version = add_version(
        template,
        variants=variants,
        fallback_locale=fallback_locale,
        sample=sample,
        publish=publish,
        compiled=compiled,
    )
    template.reload()
    return template, version


def add_version(
    template: Template,
    *,
    variants: dict,
    fallback_locale: str | None = None,
    sample: dict | None = None,
    publish: bool = False,
    compiled: dict | None = None,
) -> TemplateVersion:
    """Save a new immutable version (``compiled`` given: already validated)."""
    fallback_locale = fallback_locale or template.fallback_locale
    if compiled is None:
        compiled = validate(template.channel, variants, fallback_locale, sample)
    if publish:
        check_publishable(template, variants)
    version = TemplateVersion(
        template_id=template.id,
        number=store.next_version_number(template.id),
        variants=variants,
        compiled=compiled or {},
        fallback_locale=fallback_locale,
        sample=sample or {},
    )
    version.save(force_insert=True)
    if publish:
        publish_version(template, version.number)
        version.reload()
    return version


def publish_version(template: Template, number: int) -> TemplateVersion:
    """Make ``number`` the version sends use (publishing an older one pins it)."""
    version = store.version_variants(template.id, number)
    if version is None:
        raise NotFound("version", number)
    check_publishable(template, version.variants)
    if not store.mark_published(template.id, number, utcnow()):
        raise NotFound("version", number)
    return store.version(template.id, number)


def _draft_doc(variants: dict, fallback_locale: str, sample: dict | None, compiled: dict) -> dict:
    return {
        "variants": variants,
        "fallback_locale": fallback_locale,
        "sample": sample or {},
        "compiled": compiled,
        "saved_at": utcnow(),
    }


def save_draft(
    template: Template, *, variants: dict, fallback_locale: str | None = None, sample: dict | None = None
) -> dict:
    """Check and compile the edits and keep them as the draft (what sends use is unchanged)."""
    fallback_locale = fallback_locale or template.fallback_locale
    compiled = validate(template.channel, variants, fallback_locale, sample)
    draft = _draft_doc(variants, fallback_locale, sample, compiled)
    store.keep_draft(template.id, draft, utcnow())
    template.draft = draft
    return draft


def start_draft(template: Template) -> dict:
    """The draft, else a copy of the published (else latest) version to edit."""
    if template.draft:
        return template.draft
    version = version_of(template)
    if version is None:
        return {}
    return {
        "variants": version.variants,
        "fallback_locale": version.fallback_locale,
        "sample": version.sample or {},
        "compiled": version.compiled or {},
        "from_version": version.number,
    }


def publish_draft(template: Template, topic: str | None = None) -> TemplateVersion:
    """The draft becomes a new, published version; the draft is then gone (409 without a draft)."""
    draft = template.draft
    if not draft:
        raise Conflict("there is no draft to publish")
    if topic and topic != template.topic:
        check_publishable(template, draft["variants"], topic)
        store.set_topic(template.id, topic)
        template.topic = topic
    check_publishable(template, draft["variants"])
    version = add_version(
        template,
        variants=draft["variants"],
        fallback_locale=draft["fallback_locale"],
        sample=draft.get("sample"),
        publish=True,
        compiled=draft.get("compiled") or {},
    )
    store.drop_draft(template.id, draft["saved_at"])
    template.reload()
    return version


def draft_pack(template: Template) -> Pack:
    """The draft compiled for previews and test sends (never cached: it changes)."""
    draft = start_draft(template)
    source = {**draft["variants"], **(draft.get("compiled") or {})}
    compiled = {
        locale: compile_variant(template.channel, locale, variant) for locale, variant in source.items()
    }
    return Pack(template.id, 0, template.channel, draft["fallback_locale"], compiled)


def version_of(template: Template, number: int | None = None) -> TemplateVersion | None:
    """The given version, else the published one, else the latest."""
    number = number or template.published_version or template.latest_version
    return store.version(template.id, number)


__all__ = [
    "FooterMissing",
    "Pack",
    "RenderError",
    "TemplateInvalid",
    "add_version",
    "check_publishable",
    "create",
    "discard_draft",
    "draft_pack",
    "load",
    "pack",
    "page",
    "publish_draft",
    "publish_version",
    "save_draft",
    "start_draft",
    "validate",
    "version_for_send",
    "update",
    "version_of",
    "versions_page",
]
