"""Templates: create, version, draft, publish, list, gallery (previews and test sends:
``template_previews``, on the same blueprint)."""

from __future__ import annotations

from apiflask import APIBlueprint

from services.mailer import blocks_gallery
from services.mailer import templates as tpl
from services.mailer.api.common import aware
from services.mailer.api.schemas import (
    DraftIn,
    GalleryCopyIn,
    GalleryOut,
    ListQuery,
    PublishIn,
    TemplateIn,
    TemplateOut,
    TemplatePage,
    TemplatePatch,
    VersionIn,
    VersionPage,
)
from services.mailer.models import Template, TemplateVersion
from shared.http.auth import roles
from shared.http.errors import not_found
from shared.http.paging import bad_cursor, cursor_id, raw_cursor

bp = APIBlueprint("templates", __name__, url_prefix="/templates", tag="templates")


def version_out(version: TemplateVersion | None):
    if version is None:
        return None
    return {
        "number": version.number,
        "variants": version.variants,
        "compiled": version.compiled or {},
        "fallback_locale": version.fallback_locale,
        "sample": version.sample,
        "published": version.published,
        "published_at": aware(version.published_at),
        "created_at": aware(version.created_at),
    }


def draft_out(draft: dict | None):
    if not draft:
        return None
    return {**draft, "saved_at": aware(draft.get("saved_at"))}


def template_out(template: Template, version: TemplateVersion | None = None, draft: bool = False):
    return {
        "id": str(template.id),
        "name": template.name,
        "channel": template.channel,
        "description": template.description or "",
        "archived": template.archived,
        "fallback_locale": template.fallback_locale,
        "latest_version": template.latest_version,
        "published_version": template.published_version,
        "topic": template.topic,
        "created_at": aware(template.created_at),
        "updated_at": aware(template.updated_at),
        "version": version_out(version),
        "draft": draft_out(tpl.start_draft(template)) if draft else None,
    }


def load_template(template_id, *, editable: bool = False) -> Template:
    """The template, or 404; ``editable``: 409 when it is archived (no new draft or version)."""
    return tpl.load(template_id, editable=editable)


@bp.post("")
@roles("marketer")
@bp.input(TemplateIn)
@bp.output(TemplateOut, status_code=201)
def create_template(json_data):
    """Create a template with its first version (checked by rendering sample data)."""
    template, version = tpl.create(**json_data)
    return template_out(template, version, draft=json_data.get("draft", False))


@bp.get("/gallery")
@roles("marketer", "analyst")
@bp.output(GalleryOut)
def gallery():
    """Starting templates (newsletter, offer, welcome, event invitation) in Spanish and English."""
    return {
        "items": [
            {
                "key": key,
                "name": item["name"],
                "description": item["description"],
                "locales": sorted(item["variants"]),
            }
            for key, item in blocks_gallery.GALLERY.items()
        ]
    }


@bp.post("/gallery/<key>")
@roles("marketer")
@bp.input(GalleryCopyIn)
@bp.output(TemplateOut, status_code=201)
def copy_from_gallery(key, json_data):
    """A new template whose draft is a copy of a gallery template, to edit and publish."""
    item = blocks_gallery.GALLERY.get(key)
    if item is None:
        raise not_found("gallery template", key)
    template, _ = tpl.create(
        name=json_data.get("name") or item["name"],
        channel="email",
        variants=blocks_gallery.variants(key),
        fallback_locale="es",
        description=item["description"],
        topic=item["topic"],
        draft=True,
    )
    return template_out(template, None, draft=True)


@bp.get("")
@roles("marketer", "analyst")
@bp.input(ListQuery, location="query")
@bp.output(TemplatePage)
def list_templates(query_data):
    """List templates, newest last, by cursor."""
    filters = {name: query_data[name] for name in ("channel", "archived") if name in query_data}
    items, total = tpl.page(filters, cursor_id(query_data), query_data["limit"])
    nxt = str(items[-1].id) if len(items) == query_data["limit"] else None
    return {"items": [template_out(t) for t in items], "total": total, "next": nxt}


@bp.get("/<template_id>")
@roles("marketer", "analyst")
@bp.output(TemplateOut)
def get_template(template_id):
    """A template with the version sends use (published, else latest)."""
    template = load_template(template_id)
    return template_out(template, tpl.version_of(template), draft=True)


@bp.put("/<template_id>/draft")
@roles("marketer")
@bp.input(DraftIn)
@bp.output(TemplateOut)
def save_draft(template_id, json_data):
    """Keep edits as the draft (checked and compiled like a version); what campaigns send is unchanged."""
    template = load_template(template_id, editable=True)
    tpl.save_draft(template, **json_data)
    template.reload()
    return template_out(template, tpl.version_of(template), draft=True)


@bp.delete("/<template_id>/draft")
@roles("marketer")
@bp.output(TemplateOut)
def discard_draft(template_id):
    """Drop the draft; the published version stays as it is."""
    template = load_template(template_id)
    tpl.discard_draft(template)
    return template_out(template, tpl.version_of(template), draft=True)


@bp.post("/<template_id>/draft/publish")
@roles("marketer")
@bp.input(PublishIn)
@bp.output(TemplateOut)
def publish_draft(template_id, json_data):
    """The draft becomes a new version that campaigns send (a marketing topic needs the footer block)."""
    template = load_template(template_id, editable=True)
    version = tpl.publish_draft(template, json_data.get("topic"))
    return template_out(template, version, draft=True)


@bp.patch("/<template_id>")
@roles("marketer")
@bp.input(TemplatePatch)
@bp.output(TemplateOut)
def update_template(template_id, json_data):
    """Rename, describe or archive a template (content changes are new versions)."""
    template = tpl.update(load_template(template_id), json_data)
    return template_out(template, tpl.version_of(template))


@bp.get("/<template_id>/versions")
@roles("marketer", "analyst")
@bp.input(ListQuery, location="query")
@bp.output(VersionPage)
def list_versions(template_id, query_data):
    """Every saved version, oldest first."""
    template = load_template(template_id)
    field, after = raw_cursor(query_data)
    try:
        number = int(after) if after else None
    except ValueError:
        raise bad_cursor(field) from None
    items, total = tpl.versions_page(template, number, query_data["limit"])
    nxt = str(items[-1].number) if len(items) == query_data["limit"] else None
    return {"items": [version_out(v) for v in items], "total": total, "next": nxt}


@bp.post("/<template_id>/versions")
@roles("marketer")
@bp.input(VersionIn)
@bp.output(TemplateOut, status_code=201)
def add_version(template_id, json_data):
    """Save a new version (checked like a new template); publish it at once if asked."""
    template = load_template(template_id, editable=True)
    version = tpl.add_version(template, **json_data)
    template.reload()
    return template_out(template, version)


@bp.post("/<template_id>/versions/<int:number>/publish")
@roles("marketer")
@bp.output(TemplateOut)
def publish(template_id, number):
    """Make this version the one sends use (an older one pins it)."""
    template = load_template(template_id)
    version = tpl.publish_version(template, number)
    template.reload()
    return template_out(template, version)
