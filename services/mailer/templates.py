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

import re
import threading
from dataclasses import dataclass

from bson import ObjectId
from pymongo import ReturnDocument

from services.mailer import blocks as blk
from services.mailer import blocks_check, blocks_compile
from services.mailer.models import Delivery, Template, TemplateVersion
from services.mailer.rendering import Compiled, RenderError, check_variants, compile_variant
from shared.store import utcnow

LOCALE_RE = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")


class TemplateInvalid(ValueError):
    """``fields``: {"variants.es.subject": ["line 1: 'x' is undefined"]}; ``blocks``: the
    problems of block variants, each naming its block in Spanish and English."""

    def __init__(self, fields: dict[str, list[str]], blocks: list[blk.BlockProblem] | None = None):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in fields.items()))
        self.fields = fields
        self.blocks = blocks or []


class FooterMissing(ValueError):
    """A marketing template whose block variants lack the unsubscribe footer."""

    def __init__(self, locales: list[str], topic: str):
        super().__init__(f"no footer block in {', '.join(locales)}")
        self.locales = locales
        self.topic = topic


def validate(channel: str, variants: dict, fallback_locale: str, sample: dict | None) -> dict:
    """Check every variant; the compiled form of block variants (locale -> fields), else {}."""
    fields: dict[str, list[str]] = {}
    problems: list[blk.BlockProblem] = []
    if not isinstance(variants, dict) or not variants:
        raise TemplateInvalid({"variants": ["give at least one locale variant"]})
    required = ("subject",) if channel == "email" else ("text",)
    for locale, variant in variants.items():
        if not LOCALE_RE.match(str(locale)):
            fields.setdefault(f"variants.{locale}", []).append("locale must look like es or es-MX")
            continue
        if not isinstance(variant, dict):
            fields.setdefault(f"variants.{locale}", []).append("must be an object")
            continue
        built = channel == "email" and blk.uses_blocks(variant)
        if built:
            allowed = {"subject", "from_name", "preheader", "blocks"}
        else:
            allowed = {"subject", "text", "html", "from_name"} if channel == "email" else {"text"}
        for key, value in variant.items():
            if key not in allowed:
                fields.setdefault(f"variants.{locale}.{key}", []).append(
                    f"unknown field for {channel} (allowed: {', '.join(sorted(allowed))})"
                )
            elif key != "blocks" and not isinstance(value, str):
                fields.setdefault(f"variants.{locale}.{key}", []).append("must be a string")
        for key in required:
            if not variant.get(key):
                fields.setdefault(f"variants.{locale}.{key}", []).append("is required")
        if built:
            found = blocks_check.check(locale, variant, sample, f"variants.{locale}")
            problems += found
            for problem in found:
                fields.setdefault(problem.field, []).append(problem.en)
        elif channel == "email" and not (variant.get("text") or variant.get("html")):
            fields.setdefault(f"variants.{locale}.text", []).append("give a text or an html body")
    if fallback_locale not in variants:
        fields.setdefault("fallback_locale", []).append("must be one of the variants' locales")
    if fields:
        raise TemplateInvalid(fields, problems)
    compiled = {}
    try:
        compiled = {
            locale: blocks_compile.compile_variant(locale, variant)
            for locale, variant in variants.items()
            if channel == "email" and blk.uses_blocks(variant)
        }
    except RenderError as exc:
        raise TemplateInvalid({f"variants.{exc.locale}.blocks": [exc.message]}) from None
    rendered = check_variants(channel, {**variants, **compiled}, sample)
    if rendered:
        out: dict[str, list[str]] = {}
        for problem in rendered:
            where = f"line {problem.line}: " if problem.line else ""
            field = (
                problem.field if problem.locale not in compiled or problem.field == "subject" else "blocks"
            )
            out.setdefault(f"variants.{problem.locale}.{field}", []).append(where + problem.message)
        raise TemplateInvalid(out)
    return compiled


def check_publishable(template: Template, variants: dict, topic: str | None = None) -> None:
    """A template built from blocks needs the footer block in every block variant unless it is
    for service messages: a template whose topic is not said counts as marketing."""
    topic = topic or template.topic
    if template.channel != "email" or topic not in (*blk.MARKETING_TOPICS, None):
        return
    missing = [
        locale
        for locale, variant in variants.items()
        if blk.uses_blocks(variant) and blk.missing_footer(variant)
    ]
    if missing:
        raise FooterMissing(missing, topic or "marketing")


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
