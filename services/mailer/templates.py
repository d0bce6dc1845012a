"""Templates: create, version, draft, publish, and the compiled form sends use.

A template's versions are immutable once saved, so a compiled version is
cached by (template id, number) for the life of the process. Variants built
from blocks (``services.mailer.blocks``) are compiled to HTML and text once,
when the version (or the draft) is saved; a send renders the stored result.

Editing happens on the template's draft (``save_draft``): previews and test
sends may use it, sends never do; ``publish_draft`` makes it a new published
version. A campaign step keeps the version its first batch was sent with
(``version_for_send``), so publishing while it runs changes nothing it sends.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from bson import ObjectId
from pymongo import ReturnDocument

from services.mailer.models import Delivery, Template, TemplateVersion
from services.mailer.rendering import Compiled, RenderError, compile_variant
from services.mailer.template_checks import FooterMissing, TemplateInvalid, check_publishable, validate
from shared.store import utcnow


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
    bumped = Template._get_collection().find_one_and_update(
        {"_id": template.id},
        {"$inc": {"latest_version": 1}, "$set": {"updated_at": utcnow()}},
        return_document=ReturnDocument.AFTER,
        projection={"latest_version": 1},
    )
    version = TemplateVersion(
        template_id=template.id,
        number=bumped["latest_version"],
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


def publish_version(template: Template, number: int) -> TemplateVersion | None:
    """Make ``number`` the version sends use (publishing an older one pins it)."""
    version = TemplateVersion.objects(template_id=template.id, number=number).only("variants").first()
    if version is None:
        return None
    check_publishable(template, version.variants)
    now = utcnow()
    updated = TemplateVersion.objects(template_id=template.id, number=number).update_one(
        set__published=True, set__published_at=now
    )
    if not updated:
        return None
    Template.objects(id=template.id).update_one(set__published_version=number, set__updated_at=now)
    return TemplateVersion.objects(template_id=template.id, number=number).first()


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
    Template.objects(id=template.id).update_one(set__draft=draft, set__updated_at=utcnow())
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


def publish_draft(template: Template, topic: str | None = None) -> TemplateVersion | None:
    """The draft becomes a new, published version; the draft is then gone. None: no draft."""
    draft = template.draft
    if not draft:
        return None
    if topic and topic != template.topic:
        check_publishable(template, draft["variants"], topic)
        Template.objects(id=template.id).update_one(set__topic=topic)
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
    Template.objects(id=template.id, draft__saved_at=draft["saved_at"]).update_one(unset__draft=True)
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


def version_for_send(template: Template, campaign_id: str, step: str) -> int | None:
    """The version a campaign step sends: the one its earlier batches used, else the published one.

    A step's deliveries record their version, so a version published while
    the campaign runs reaches only steps that had not started. Once known,
    a step's version never changes: it is remembered, one read per step and process."""
    key = (campaign_id, step, template.id)
    with _lock:
        known = _steps.get(key)
    if known is not None:
        return known
    earlier = Delivery._get_collection().find_one(
        {"campaign_id": campaign_id, "step": step, "template_id": template.id}, {"template_version": 1}
    )
    number = (earlier or {}).get("template_version") or template.published_version
    if number and earlier:
        with _lock:
            if len(_steps) >= 10_000:
                _steps.clear()
            _steps[key] = number
    return number


def version_of(template: Template, number: int | None = None) -> TemplateVersion | None:
    """The given version, else the published one, else the latest."""
    number = number or template.published_version or template.latest_version
    return TemplateVersion.objects(template_id=template.id, number=number).first()


@dataclass
class Pack:
    """A version compiled for every locale."""

    template_id: ObjectId
    number: int
    channel: str
    fallback: str
    variants: dict[str, Compiled]


_cache: dict[tuple, Pack] = {}
_steps: dict[tuple, int] = {}  # (campaign id, step, template id) -> the version its deliveries have
_lock = threading.Lock()


def pack(template_id: ObjectId, number: int, channel: str) -> Pack | None:
    key = (template_id, number)
    with _lock:
        found = _cache.get(key)
    if found is not None:
        return found
    version = TemplateVersion.objects(template_id=template_id, number=number).first()
    if version is None:
        return None
    source = {**version.variants, **(version.compiled or {})}
    compiled = {locale: compile_variant(channel, locale, variant) for locale, variant in source.items()}
    found = Pack(template_id, number, channel, version.fallback_locale, compiled)
    with _lock:
        _cache[key] = found
    return found


__all__ = [
    "FooterMissing",
    "Pack",
    "RenderError",
    "TemplateInvalid",
    "add_version",
    "check_publishable",
    "create",
    "draft_pack",
    "pack",
    "publish_draft",
    "publish_version",
    "save_draft",
    "start_draft",
    "validate",
    "version_for_send",
    "version_of",
]
