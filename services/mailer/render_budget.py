"""The render budget of templates: output size, loop iterations and time of one render.

Marketers write templates, so a render must not make megabytes or spin a worker:
the sandboxed environment counts loop iterations, sizes what calls and filters
make, and ``render_budgeted`` streams the output and stops at the first part
past the budget (SECURITY.md). The mailer's parts call ``configure`` at start-up.
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass

from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment


@dataclass(frozen=True)
class RenderBudget:
    """Limits of one render of one field (``VINCULO_MAILER_RENDER_*``, SECURITY.md)."""

    max_bytes: int = 256 * 1024  # characters of output of one field (Gmail clips mail past ~100 KB)
    max_iterations: int = 10_000  # loop iterations over the whole field, nested loops multiplied
    max_seconds: float = 2.0  # CPU of the render, checked at every iteration, call and output

    @classmethod
    def from_settings(cls, settings) -> RenderBudget:
        return cls(settings.render_max_bytes, settings.render_max_iterations, settings.render_max_seconds)


class BudgetExceeded(Exception):
    """A render went past its budget (raised inside Jinja; Compiled.render makes it a RenderError)."""


_budget = RenderBudget()  # configure() sets the service's own at start-up
_spent: contextvars.ContextVar[_Spending | None] = contextvars.ContextVar("render_spending", default=None)


def configure(budget: RenderBudget) -> None:
    """Set the render budget of this process (the mailer's app and worker call it with their settings)."""
    global _budget
    _budget = budget


class _Spending:
    def __init__(self, budget: RenderBudget):
        self.budget = budget
        self.iterations = 0
        self.ends_at = time.monotonic() + budget.max_seconds

    def tick(self) -> None:
        self.iterations += 1
        if self.iterations > self.budget.max_iterations:
            raise BudgetExceeded(f"more than {self.budget.max_iterations} loop iterations")
        if self.iterations % 256 == 0:
            self.clock()

    def clock(self) -> None:
        if time.monotonic() > self.ends_at:
            raise BudgetExceeded(f"took longer than {self.budget.max_seconds:g} s")

    def size(self, value) -> None:
        """Refuse a value larger than the output may be (a string or list about to be made or used)."""
        if isinstance(value, (str, bytes, list, tuple)) and len(value) > self.budget.max_bytes:
            raise BudgetExceeded(
                f"a value of {len(value)} characters is more than the output may hold "
                f"({self.budget.max_bytes})"
            )


def _spending() -> _Spending:
    spending = _spent.get()
    if spending is None:  # rendered outside Compiled.render: a budget of its own
        spending = _Spending(_budget)
        _spent.set(spending)
    return spending


def _product_size(left, right) -> int | None:
    """Length of ``left * right`` for a sequence times a whole number, without computing it."""
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(times, int):
            return len(seq) * max(times, 0)
    return None


class BudgetedEnvironment(SandboxedEnvironment):
    """The sandbox, plus the render budget: every loop counts its iterations, ``*`` and ``**``
    are sized before they run, calls are timed and their results sized."""

    intercepted_binops = frozenset(["*", "**", "+"])
    padding_methods = frozenset(["ljust", "rjust", "center", "zfill", "expandtabs"])

    def _parse(self, source, name, filename):
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            # environment.budget_iter(...) around every loop's iterable: it cannot be shadowed by a
            # template variable, and it also covers loops over strings, lists and ``range``.
            loop.iter = nodes.Call(
                nodes.EnvironmentAttribute("budget_iter"), [loop.iter], [], None, None, lineno=loop.lineno
            )
        for parent in list(tree.find_all(nodes.Node)):
            # Every ``a ~ b`` is sized as soon as it is made (``call`` sizes results), so a string
            # doubled in a loop is stopped at twice the budget, not at a gigabyte.
            for field in parent.fields:
                value = getattr(parent, field, None)
                if isinstance(value, nodes.Concat):
                    setattr(parent, field, self._sized(value))
                elif isinstance(value, list):
                    setattr(
                        parent, field, [self._sized(v) if isinstance(v, nodes.Concat) else v for v in value]
                    )
        return tree

    @staticmethod
    def _sized(node: nodes.Expr) -> nodes.Call:
        return nodes.Call(
            nodes.EnvironmentAttribute("budget_sized"), [node], [], None, None, lineno=node.lineno
        )

    @staticmethod
    def budget_sized(value):
        return value  # ``call`` has sized it

    def budget_iter(self, iterable):
        spending = _spending()
        for item in iterable:
            spending.tick()
            yield item

    def call_binop(self, context, op, left, right):
        spending = _spending()
        if op == "*":
            size = _product_size(left, right)
            if size is not None and size > spending.budget.max_bytes:
                raise BudgetExceeded(
                    f"'*' would make {size} characters, more than the output may hold "
                    f"({spending.budget.max_bytes})"
                )
        elif op == "+":
            if (
                isinstance(left, (str, list, tuple))
                and isinstance(right, (str, list, tuple))
                and (len(left) + len(right) > spending.budget.max_bytes)
            ):
                raise BudgetExceeded(
                    f"'+' would make {len(left) + len(right)} items, more than the output "
                    f"may hold ({spending.budget.max_bytes})"
                )
        elif op == "**":
            if (
                isinstance(right, (int, float))
                and abs(right) > 64
                and not (isinstance(left, (int, float)) and abs(left) <= 1)
            ):
                raise BudgetExceeded("'**' with an exponent above 64 is not allowed")
        return super().call_binop(context, op, left, right)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - Jinja's own signature
        spending = _spending()
        spending.clock()
        if (
            isinstance(getattr(__obj, "__self__", None), str)
            and getattr(__obj, "__name__", "") in __self.padding_methods
        ):
            # "x".ljust(10**9), zfill, center, expandtabs: refuse widths past the output.
            for value in list(args) + list(kwargs.values()):
                if isinstance(value, int) and value > spending.budget.max_bytes:
                    raise BudgetExceeded(f"a width of {value} is more than the output may hold")
        result = super().call(__context, __obj, *args, **kwargs)
        spending.size(result)
        return result


def sized_filter(name: str, original, widths: bool):
    """A built-in filter whose result (and width argument, for padding filters) is sized."""

    def sized(*args, **kwargs):
        spending = _spending()
        for value in (list(args[1:]) + list(kwargs.values())) if widths else ():
            if isinstance(value, int) and value > spending.budget.max_bytes:
                raise BudgetExceeded(f"{name}: a width of {value} is more than the output may hold")
        result = original(*args, **kwargs)
        spending.size(result)
        return result

    for attribute in ("jinja_pass_arg",):
        if hasattr(original, attribute):
            setattr(sized, attribute, getattr(original, attribute))
    return sized


def render_budgeted(template, context: dict, budget: RenderBudget | None = None) -> str:
    """Render ``template`` streaming its output, stopped at the first part past the budget."""
    spending = _Spending(budget or _budget)
    token = _spent.set(spending)
    try:
        parts, size = [], 0
        for part in template.generate(context):
            size += len(part)
            if size > spending.budget.max_bytes:
                raise BudgetExceeded(f"the output is larger than {spending.budget.max_bytes} characters")
            spending.clock()
            parts.append(part)
        return "".join(parts)
    finally:
        _spent.reset(token)
