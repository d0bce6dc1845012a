"""Checking a template's content before it is stored: every variant renders, in each
locale, with the sample; a marketing template carries its footer (unsubscribe and
preference-center links) before it is published.
"""

from __future__ import annotations

import re

from services.mailer import blocks as blk
from services.mailer import blocks_check, blocks_compile
from services.mailer.models import Template
from services.mailer.rendering import RenderError, check_variants
from shared.errors import DomainError

LOCALE_RE = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")


class TemplateInvalid(DomainError):
    """``fields``: {"variants.es.subject": ["line 1: 'x' is undefined"]}; ``blocks``: the
    problems of block variants, each naming its block in Spanish and English (422, the fields
    named; block problems also in ``details.blocks``)."""

    status = 422
    code = "validation_error"

    def __init__(self, fields: dict[str, list[str]], blocks: list[blk.BlockProblem] | None = None):
        self.fields = fields
        self.blocks = blocks or []
        if self.blocks:
            first = self.blocks[0]
            super().__init__(
                f"{first.en} / {first.es}",
                location="json",
                fields=fields,
                blocks=[p.as_detail() for p in self.blocks],
            )
        else:
            super().__init__(f"Invalid json: {', '.join(sorted(fields))}", location="json", fields=fields)


class FooterMissing(DomainError):
    """A marketing template whose block variants lack the unsubscribe footer: 422 naming the
    block that is missing, per locale, in Spanish and English."""

    status = 422
    code = "footer_missing"

    def __init__(self, locales: list[str], topic: str):
        self.locales = locales
        self.topic = topic
        problems = [
            {
                "field": f"variants.{locale}.blocks",
                "es": f"falta el bloque pie (con los enlaces de baja y de preferencias) en «{locale}»: "
                f"una plantilla de {topic} no se puede publicar sin él",
                "en": f"the footer block (with the unsubscribe and preference-center links) is missing in "
                f"'{locale}': a {topic} template cannot be published without it",
            }
            for locale in locales
        ]
        super().__init__(
            f"{problems[0]['en']} / {problems[0]['es']}",
            location="json",
            fields={p["field"]: [p["en"]] for p in problems},
            blocks=problems,
            missing_block="footer",
        )


class DoesNotRender(DomainError):
    """A template (or its draft) that does not render for a preview or test send: 422, the
    field named as ``variants.<locale>.<field>``, the line in ``details.line``."""

    status = 422
    code = "validation_error"

    def __init__(self, exc: RenderError):
        where = f"line {exc.line}: " if exc.line else ""
        field = f"variants.{exc.locale}.{exc.field}"
        super().__init__(
            f"The template does not render: {field}: {where}{exc.message}",
            location="template",
            fields={field: [where + exc.message]},
            line=exc.line,
        )


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
