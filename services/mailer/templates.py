"""Templates: create, version, publish, and the compiled form sends use.

A template's versions are immutable once saved, so a compiled version is
cached by (template id, number) for the life of the process.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from bson import ObjectId
from pymongo import ReturnDocument

from shared.store import utcnow

from services.mailer.models import Template, TemplateVersion
from services.mailer.rendering import Compiled, RenderError, check_variants, compile_variant

LOCALE_RE = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")


class TemplateInvalid(ValueError):
    """``fields``: {"variants.es.subject": ["line 1: 'x' is undefined"]}."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in fields.items()))
        self.fields = fields


def validate(channel: str, variants: dict, fallback_locale: str, sample: dict | None) -> None:
    fields: dict[str, list[str]] = {}
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
        allowed = {"subject", "text", "html", "from_name"} if channel == "email" else {"text"}
        for key, value in variant.items():
            if key not in allowed:
                fields.setdefault(f"variants.{locale}.{key}", []).append(
                    f"unknown field for {channel} (allowed: {', '.join(sorted(allowed))})")
            elif not isinstance(value, str):
                fields.setdefault(f"variants.{locale}.{key}", []).append("must be a string")
        for key in required:
            if not variant.get(key):
                fields.setdefault(f"variants.{locale}.{key}", []).append("is required")
        if channel == "email" and not (variant.get("text") or variant.get("html")):
            fields.setdefault(f"variants.{locale}.text", []).append("give a text or an html body")
    if fallback_locale not in variants:
        fields.setdefault("fallback_locale", []).append("must be one of the variants' locales")
    if fields:
        raise TemplateInvalid(fields)
    problems = check_variants(channel, variants, sample)
    if problems:
        out: dict[str, list[str]] = {}
        for problem in problems:
            where = f"line {problem.line}: " if problem.line else ""
            out.setdefault(f"variants.{problem.locale}.{problem.field}", []).append(where + problem.message)
        raise TemplateInvalid(out)


def create(*, name: str, channel: str, variants: dict, fallback_locale: str = "es", description: str = "",
           sample: dict | None = None, publish: bool = True) -> tuple[Template, TemplateVersion]:
    validate(channel, variants, fallback_locale, sample)
    template = Template(name=name, channel=channel, description=description, fallback_locale=fallback_locale)
    template.save()
    version = add_version(template, variants=variants, fallback_locale=fallback_locale, sample=sample,
                          publish=publish, validated=True)
    template.reload()
    return template, version


def add_version(template: Template, *, variants: dict, fallback_locale: str | None = None,
                sample: dict | None = None, publish: bool = False, validated: bool = False) -> TemplateVersion:
    fallback_locale = fallback_locale or template.fallback_locale
    if not validated:
        validate(template.channel, variants, fallback_locale, sample)
    bumped = Template._get_collection().find_one_and_update(
        {"_id": template.id}, {"$inc": {"latest_version": 1}, "$set": {"updated_at": utcnow()}},
        return_document=ReturnDocument.AFTER, projection={"latest_version": 1})
    version = TemplateVersion(template_id=template.id, number=bumped["latest_version"], variants=variants,
                              fallback_locale=fallback_locale, sample=sample or {})
    version.save(force_insert=True)
    if publish:
        publish_version(template, version.number)
        version.reload()
    return version


def publish_version(template: Template, number: int) -> TemplateVersion | None:
    """Make ``number`` the version sends use (publishing an older one pins it)."""
    now = utcnow()
    updated = TemplateVersion.objects(template_id=template.id, number=number).update_one(
        set__published=True, set__published_at=now)
    if not updated:
        return None
    Template.objects(id=template.id).update_one(set__published_version=number, set__updated_at=now)
    return TemplateVersion.objects(template_id=template.id, number=number).first()


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
    compiled = {locale: compile_variant(channel, locale, variant) for locale, variant in version.variants.items()}
    found = Pack(template_id, number, channel, version.fallback_locale, compiled)
    with _lock:
        _cache[key] = found
    return found


__all__ = ["Pack", "RenderError", "TemplateInvalid", "add_version", "create", "pack", "publish_version",
           "validate", "version_of"]
