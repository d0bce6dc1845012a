"""The journey of a campaign as the console shows it: the editor's step rows, and each step in words.

``journey_from_rows`` turns the editor's rows (one per step, a few spare ones
to add more) into the campaigns API's journey; ``journey_rows`` turns a stored
journey back into rows, and into the JSON of the advanced view (waits in the
largest whole unit). ``journey_steps`` is the sentence for each step the
campaign page draws (the ``journey_steps`` template filter).
"""

from __future__ import annotations

import json

from services.console.forms import named, number
from services.console.i18n import gettext as _

# The journey editor: one row per step (the steps there are, and a few empty ones to add more).
JOURNEY_TYPES = ("send", "wait", "branch")
BRANCH_IFS = ("opened", "clicked", "not_opened", "not_clicked")
WAIT_UNITS = (("days", 86400), ("hours", 3600), ("minutes", 60))
JOURNEY_SPARE_ROWS = 3


def journey_from_rows(form, picked: dict, errors: dict) -> dict | None:
    """The journey of the step rows (a row without a type is left out); None without steps.
    Errors the console can see (a wait without a number) go to ``errors`` under the API's names."""
    steps = []
    for i in range(int(form.get("journey_rows") or 0)):
        kind = form.get(f"step{i}_type", "")
        if kind not in JOURNEY_TYPES:
            continue
        where = f"journey.steps.{len(steps)}"
        step: dict = {"type": kind}
        name = form.get(f"step{i}_id", "").strip()
        if name:
            step["id"] = name
        if kind == "send":
            step["template_id"] = named(form.get(f"step{i}_template_id", "").strip(), picked["templates"])
        elif kind == "wait":
            amount, unit = number(form.get(f"step{i}_amount")), form.get(f"step{i}_unit")
            if not isinstance(amount, float) or amount <= 0:
                errors[f"{where}.hours"] = [_("Say how long to wait: a number greater than 0.")]
            step[unit if unit in dict(WAIT_UNITS) else "hours"] = amount if isinstance(amount, float) else 0
        else:
            step["if"] = form.get(f"step{i}_if") or ""
            for key in ("of", "then", "else"):
                target = form.get(f"step{i}_{key}", "").strip()
                if target:
                    step[key] = target
        following = form.get(f"step{i}_next", "").strip()
        if following:
            step["next"] = following
        steps.append(step)
    if not steps:
        return None
    return {"steps": steps, "reentry": form.get("journey_reentry") or "never"}


def journey_rows(journey: dict | None) -> dict:
    """The form's step rows of a stored journey (waits stored in seconds read back in the
    largest whole unit), and the journey as JSON the API takes back (waits in those units)."""
    form: dict = {"journey_reentry": (journey or {}).get("reentry", "never")}
    steps = []
    for i, step in enumerate((journey or {}).get("steps") or []):
        row = {
            f"step{i}_type": step["type"],
            f"step{i}_id": step.get("id", ""),
            f"step{i}_next": step.get("next") or "",
        }
        shown = {k: v for k, v in step.items() if k != "seconds" and v is not None}
        if step["type"] == "send":
            row[f"step{i}_template_id"] = step.get("template_id", "")
        elif step["type"] == "wait":
            seconds = step.get("seconds") or 0
            unit, size = next(((u, n) for u, n in WAIT_UNITS if seconds % n == 0), ("minutes", 60))
            amount = seconds / size
            amount = int(amount) if amount.is_integer() else round(amount, 2)
            row.update({f"step{i}_amount": amount, f"step{i}_unit": unit})
            shown[unit] = amount
        else:
            row.update({f"step{i}_{k}": step.get(k) or "" for k in ("if", "of", "then", "else")})
        form.update(row)
        steps.append(shown)
    form["journey_rows"] = len(steps)
    form["journey"] = (
        json.dumps({"steps": steps, "reentry": form["journey_reentry"]}, indent=2, ensure_ascii=False)
        if steps
        else ""
    )
    return form


def journey_steps(journey):
    """The journey's steps with a sentence each, for the drawing."""
    steps = []
    for step in (journey or {}).get("steps", []):
        kind = step.get("type")
        if kind == "send":
            text = _("Send template {template}", template=step.get("template_id"))
        elif kind == "wait":
            seconds = step.get("seconds") or (
                step.get("minutes", 0) * 60 + step.get("hours", 0) * 3600 + step.get("days", 0) * 86400
            )
            text = _("Wait {hours} h", hours=round(seconds / 3600, 1))
        elif kind == "branch":
            text = _(
                "If {condition} of {step}: go to {then}, else {other}",
                condition=_(step.get("if", "")),
                step=step.get("of"),
                then=step.get("then") or _("end"),
                other=step.get("else") or _("end"),
            )
        else:
            text = kind or "?"
        steps.append({"id": step.get("id"), "type": kind, "text": text})
    return steps
