"""The segment form: the rule typed (JSON) or built, checked, previewed, and the page that shows it.

``form_from_request`` reads what was typed; ``rule_or_page`` gives the rule to
save, or the page to answer instead (the rule's errors placed at their node,
or its live count and sample when the button pressed was not Save);
``preview_rule`` asks the segments API for that count; ``form_page`` renders
the builder with the choices it offers. The routes are
services/console/views/segments.py.
"""

from __future__ import annotations

from flask import render_template, request

from services.console.client import ApiFailure, api
from services.console.forms import json_field
from services.console.i18n import gettext as _
from services.console.rules import builder_spec, describe, node_errors

NEW_RULE = {"all": [{"field": "country", "op": "eq", "value": "ES"}]}

# What the segments API answers an analyst's near condition with (services/segments/rule_behaviour.py,
# profile_reads.near_floor), shown in the user's language; other rule messages stay as the API wrote them.
NEAR_REFUSALS = (
    "fewer than 5 customers live in this circle: your role may count there only with a wider radius",
    "your role may count near a place only within 1 km or more",
)


def rule_or_page(segment: dict | None, form: dict, action: str):
    """(the rule to save, None), or (None, the page to answer): the rule's errors, or its
    preview when the button pressed was not Save."""
    rule, errors = parse_rule(form["rule"])
    form["parsed"] = rule
    if errors:
        return None, form_page(segment, form, errors, _("Please correct the marked fields."), status=422)
    if action != "save":
        preview, errors, message = preview_rule(rule)
        return None, form_page(segment, form, errors, message, preview, 422 if errors else 200)
    return rule, None


def parse_rule(text: str):
    """The pasted rule, or (None, {"rule": [why]})."""
    if not text.strip():
        return None, {"rule": [_("Write a rule (JSON) or build one.")]}
    errors: dict = {}
    return json_field(text, "rule", errors), errors


def preview_rule(rule, sample: int = 10):
    """(answer, errors, message) of the segments API's preview."""
    try:
        return api().segments.post("/segments/preview", {"rule": rule, "sample": sample}), {}, None
    except ApiFailure as exc:
        if exc.status != 422:
            raise
        fields = {
            name: [_(m) if m in NEAR_REFUSALS else m for m in messages]
            for name, messages in exc.fields.items()
        }
        return None, fields or {"rule": [exc.message]}, exc.message


def form_page(segment, form, errors=None, message=None, preview=None, status=200):
    rule = form.get("parsed")
    return render_template(
        "segments/form.html",
        segment=segment,
        form=form,
        errors=errors or {},
        message=message,
        preview=preview,
        spec=builder_spec(campaign_choices()),
        placed=node_errors(rule, errors or {}) if rule is not None else {},
        rule=rule,
        describe_node=describe,
    ), status


def campaign_choices() -> list[tuple[str, str]]:
    """(id, name) of the campaigns, for the campaign condition's picker (none when the
    campaigns service does not answer or the role may not list them: the id stays typed in JSON)."""
    try:
        items = api().campaigns.get("/campaigns", limit=200).get("items", [])
    except ApiFailure:
        return []
    return [(c["id"], c.get("name") or c["id"]) for c in items]


def form_from_request() -> dict:
    form = {
        "name": request.form.get("name", "").strip(),
        "description": request.form.get("description", "").strip(),
        "kind": "static" if request.form.get("kind") == "static" else "dynamic",
        "rule": request.form.get("rule", ""),
    }
    return form
