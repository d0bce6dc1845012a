"""Template previews and test sends (views of the templates blueprint)."""

from __future__ import annotations

from services.mailer import previews
from services.mailer.api.common import mailer, settings
from services.mailer.api.schemas import PreviewIn, PreviewOut, TestSendIn, TestSendOut
from services.mailer.api.templates import bp, load_template
from shared.http.auth import current_role, mask_personal, roles


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
    version, pack, customer, extra = previews.render_input(template, json_data)
    customer = mask_personal(customer, current_role())
    return previews.preview(template, version, pack, customer, extra, settings())


@bp.post("/<template_id>/test-send")
@roles("marketer")
@bp.input(TestSendIn)
@bp.output(TestSendOut)
def test_send(template_id, json_data):
    """Send the rendered template to one address now (no delivery, consent or cap checks)."""
    return previews.test_send(load_template(template_id), json_data, mailer())
