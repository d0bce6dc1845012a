"""Rendering templates: Jinja2 sandboxed, strict, locale-aware.

* ``SandboxedEnvironment`` (templates are written by marketers, not trusted
  code) with ``StrictUndefined``: a variable that is not there is an error
  naming it and the template line, at save, at preview and at send (a sent
  message never has a blank where a name should be).
* HTML bodies are autoescaped; subjects, text bodies and SMS are not.
* What merge fields produced is known: every ``{{ expression }}`` output is
  bracketed while rendering (``finalize``), and a rendered field is a
  ``Rendered`` string whose ``data_spans`` say which characters came from
  data rather than from the template's own text. Link tracking reads them:
  only a URL written in the template becomes a tracked link, never one a
  customer's name or attribute produced (services/mailer/tracking.py).
* Filters ``date``, ``datetime`` and ``money`` format in the recipient's locale (Babel), dates
  and times on their clock; ``customer``, ``first_name``, ``name`` and ``attributes`` from the profile.
* A render budget (``render_budget.RenderBudget``: output size, loop iterations, time) holds
  at save, preview and send alike, since all three render through
  ``Compiled.render``: a template cannot make megabytes or spin a worker.
"""

from __future__ import annotations

import datetime
import decimal
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, pass_context
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from markupsafe import Markup

from services.mailer.render_budget import BudgetedEnvironment, BudgetExceeded, render_budgeted, sized_filter

TEMPLATE_FILE = "<template>"
EMAIL_FIELDS = ("subject", "text", "html")
SMS_FIELDS = ("text",)


class RenderError(ValueError):
    """A template does not render; ``field``, ``line`` and the message say where and why."""

    def __init__(self, field: str, message: str, line: int | None = None, locale: str | None = None):
        where = f" (line {line})" if line else ""
        super().__init__(f"{field}{where}: {message}")
        self.field = field
        self.message = message
        self.line = line
        self.locale = locale


def _babel_locale(ctx) -> str:
    return str(ctx.get("locale") or "es").replace("-", "_")


def _as_datetime(value):
    if isinstance(value, str):  # a date alone ("2026-07-01") stays a date: the same date everywhere
        value = (datetime.date if len(value) == 10 else datetime.datetime).fromisoformat(value)
    return value


@pass_context
def f_date(ctx, value, format: str = "long"):
    value = _as_datetime(value)
    if isinstance(value, datetime.datetime):  # the recipient's date: 03:00 UTC 1 July is 30 June in Mexico
        zone = ZoneInfo(ctx.get("time_zone") or "UTC")  # an unknown one fails, as in ``datetime``
        value = (value if value.tzinfo else value.replace(tzinfo=datetime.UTC)).astimezone(zone).date()
    return format_date(value, format=format, locale=_babel_locale(ctx))


@pass_context
def f_datetime(ctx, value, format: str = "medium"):
    return format_datetime(
        _as_datetime(value), format=format, locale=_babel_locale(ctx), tzinfo=ctx.get("time_zone") or None
    )


@pass_context
def f_money(ctx, value, currency: str = "EUR"):
    return format_currency(decimal.Decimal(str(value)), currency, locale=_babel_locale(ctx))


@pass_context
def f_number(ctx, value):
    return format_decimal(value, locale=_babel_locale(ctx))


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = BudgetedEnvironment(undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=False)
    env.filters.update(date=f_date, datetime=f_datetime, money=f_money, number=f_number)
    for name in ("center", "indent", "wordwrap", "format", "join", "replace", "list", "batch", "slice"):
        env.filters[name] = sized_filter(
            name, env.filters[name], widths=name in ("center", "indent", "wordwrap")
        )
    return env


TEXT_ENV = _environment(False)
HTML_ENV = _environment(True)


def _line_of(exc: BaseException) -> int | None:
    """The template line of a runtime error, from the traceback Jinja rewrites."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == TEMPLATE_FILE:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


# Private-use characters bracketing each expression's output while rendering; removed
# from the output, from what expressions print and from template sources.
DATA_OPEN, DATA_CLOSE = "\ue000", "\ue001"
_NO_MARKS = str.maketrans("", "", DATA_OPEN + DATA_CLOSE)


def _mark(value):
    """``finalize``: what one ``{{ expression }}`` prints, bracketed as data (escaping comes after)."""
    if hasattr(value, "__html__"):
        return Markup(DATA_OPEN + str(value.__html__()).translate(_NO_MARKS) + DATA_CLOSE)
    return DATA_OPEN + str(value).translate(_NO_MARKS) + DATA_CLOSE


class Rendered(str):
    """A rendered field; ``data_spans`` are the (start, end) ranges that merge fields printed."""

    data_spans: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_marked(cls, marked: str) -> Rendered:
        """The text without its brackets, and where the bracketed parts are in it."""
        spans, parts, length = [], [], 0
        template_text, *printed = marked.split(DATA_OPEN)
        parts.append(template_text.replace(DATA_CLOSE, ""))
        length += len(parts[-1])
        for piece in printed:  # "<what the expression printed>\ue001<template text up to the next one>"
            data, _, text = piece.partition(DATA_CLOSE)
            if data:
                spans.append((length, length + len(data)))
            text = text.replace(DATA_CLOSE, "")
            parts += [data, text]
            length += len(data) + len(text)
        out = cls("".join(parts))
        out.data_spans = tuple(spans)
        return out

    def from_data(self, start: int, end: int) -> bool:
        """Did a merge field print any character in ``[start, end)``?"""
        return any(s < end and start < e for s, e in self.data_spans)


for _env in (TEXT_ENV, HTML_ENV):
    _env.finalize = _mark  # read when a template is compiled: every template of both marks merge-field output


@dataclass
class Compiled:
    """One locale variant, compiled once and rendered many times."""

    locale: str
    fields: dict  # field -> jinja Template
    from_name: str | None = None

    def render(self, context: dict) -> dict[str, str]:
        out = {}
        for field, template in self.fields.items():
            try:
                out[field] = render_budgeted(template, context)
            except BudgetExceeded as exc:
                raise RenderError(
                    field, f"over the render budget: {exc}", _line_of(exc), self.locale
                ) from None
            except UndefinedError as exc:
                raise RenderError(field, str(exc), _line_of(exc), self.locale) from None
            except SecurityError as exc:
                raise RenderError(field, f"not allowed: {exc}", _line_of(exc), self.locale) from None
            except Exception as exc:  # noqa: BLE001 - a filter given a bad value, a type error...
                raise RenderError(field, f"{type(exc).__name__}: {exc}", _line_of(exc), self.locale) from None
        out = {field: Rendered.from_marked(text) for field, text in out.items()}
        if "subject" in out:
            # a header cannot hold a line break
            out["subject"] = " ".join(out["subject"].split())
        return out


def compile_variant(channel: str, locale: str, variant: dict) -> Compiled:
    fields = {}
    names = EMAIL_FIELDS if channel == "email" else SMS_FIELDS
    for name in names:
        source = variant.get(name)
        if source is None:
            continue
        env = HTML_ENV if name == "html" else TEXT_ENV
        try:
            fields[name] = env.from_string(source.translate(_NO_MARKS))
        except TemplateSyntaxError as exc:
            raise RenderError(name, exc.message or "syntax error", exc.lineno, locale) from None
    return Compiled(locale=locale, fields=fields, from_name=variant.get("from_name"))


def pick_locale(variants: dict, wanted: str | None, fallback: str) -> str:
    """The variant for ``wanted`` (``es-MX`` falls back to ``es``), else the fallback."""
    if wanted:
        if wanted in variants:
            return wanted
        language = wanted.split("-")[0]
        if language in variants:
            return language
    return fallback if fallback in variants else next(iter(variants))


def customer_context(customer: dict, extra: dict | None = None) -> dict:
    """The variables a template sees, from a customer document (raw dict)."""
    first = customer.get("first_name") or ""
    last = customer.get("last_name") or ""
    name = " ".join(filter(None, (first, last))) or (customer.get("email") or "")
    purchases = customer.get("purchases") or {}
    profile = {
        "id": str(customer.get("_id", "")),
        "first_name": first,
        "last_name": last,
        "name": name,
        "email": customer.get("email") or "",
        "phone": customer.get("phone") or "",
        "city": customer.get("city") or "",
        "country": customer.get("country") or "",
        "locale": customer.get("locale") or "es",
        "tags": list(customer.get("tags") or []),
        "attributes": dict(customer.get("attributes") or {}),
        "purchases": {
            "count": purchases.get("count", 0),
            "total": purchases.get("total", 0),
            "currency": purchases.get("currency", "EUR"),
            "last_at": purchases.get("last_at"),
        },
    }
    context = {
        "customer": profile,
        "first_name": first,
        "last_name": last,
        "name": name,
        "attributes": profile["attributes"],
        "locale": profile["locale"],
        "time_zone": customer.get("time_zone") or "Europe/Madrid",
    }
    context.update(extra or {})
    return context


SAMPLE_CUSTOMER = {
    "first_name": "Lucía",
    "last_name": "García",
    "email": "lucia@example.com",
    "phone": "+34600111222",
    "city": "Madrid",
    "country": "ES",
    "locale": "es",
    "time_zone": "Europe/Madrid",
    "attributes": {},
    "purchases": {"count": 3, "total": 149.9, "currency": "EUR"},
}

LINK_VARIABLES = {
    "unsubscribe_url": "https://example.invalid/u/sample",
    "preferences_url": "https://example.invalid/p/sample",
}


def sample_customer(sample: dict | None, locale: str | None = None) -> tuple[dict, dict]:
    """(customer document, extra variables): the sample customer overridden by ``sample``."""
    sample = dict(sample or {})
    customer = {**SAMPLE_CUSTOMER, **{k: v for k, v in sample.items() if k in SAMPLE_CUSTOMER}}
    customer["attributes"] = {**SAMPLE_CUSTOMER["attributes"], **(sample.get("attributes") or {})}
    if locale:
        customer["locale"] = locale
    return customer, {k: v for k, v in sample.items() if k not in SAMPLE_CUSTOMER}


def sample_context(sample: dict | None, locale: str) -> dict:
    """Context for save-time checks: the sample customer, overridden by ``sample``.

    Only profile fields (and attributes) may be given: a send has nothing
    else, so a variable that only a sample provides must fail at save."""
    customer, _ = sample_customer(sample, locale)
    return customer_context(customer, dict(LINK_VARIABLES))


def check_variants(channel: str, variants: dict, sample: dict | None) -> list[RenderError]:
    """Compile and render every variant with sample data; every problem found."""
    problems = []
    for locale, variant in variants.items():
        try:
            compile_variant(channel, locale, variant).render(sample_context(sample, locale))
        except RenderError as exc:
            problems.append(exc)
    return problems
