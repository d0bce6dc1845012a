"""Templates and their immutable versions."""

from __future__ import annotations

from pymongo import ReturnDocument

from services.mailer.models import Template, TemplateVersion
from shared.store import utcnow


def get(template_id) -> Template | None:
    return Template.objects(id=template_id).first()


def page(filters: dict, after, limit: int) -> tuple[list[Template], int]:
    """Templates matching ``filters`` after the cursor, oldest first, and the total."""
    query = Template.objects(**filters)
    total = query.count()
    if after:
        query = query.filter(id__gt=after)
    return list(query.order_by("id").limit(limit)), total


def next_version_number(template_id) -> int:
    """Count one more version on the template (its ``latest_version``); the new number."""
    bumped = Template._get_collection().find_one_and_update(
        {"_id": template_id},
        {"$inc": {"latest_version": 1}, "$set": {"updated_at": utcnow()}},
        return_document=ReturnDocument.AFTER,
        projection={"latest_version": 1},
    )
    return bumped["latest_version"]


def version(template_id, number: int) -> TemplateVersion | None:
    return TemplateVersion.objects(template_id=template_id, number=number).first()


def version_variants(template_id, number: int) -> TemplateVersion | None:
    """The version with its variants only (what the publish check reads)."""
    return TemplateVersion.objects(template_id=template_id, number=number).only("variants").first()


def versions_page(template_id, after: int | None, limit: int) -> tuple[list[TemplateVersion], int]:
    """Versions by number after ``after``, and how many the template has."""
    query = TemplateVersion.objects(template_id=template_id)
    total = query.count()
    if after is not None:
        query = query.filter(number__gt=after)
    return list(query.order_by("number").limit(limit)), total


def mark_published(template_id, number: int, now) -> bool:
    """The version is published (False: there is no such version), and the template sends it."""
    updated = TemplateVersion.objects(template_id=template_id, number=number).update_one(
        set__published=True, set__published_at=now
    )
    if not updated:
        return False
    Template.objects(id=template_id).update_one(set__published_version=number, set__updated_at=now)
    return True


def keep_draft(template_id, draft: dict, now) -> None:
    Template.objects(id=template_id).update_one(set__draft=draft, set__updated_at=now)


def set_topic(template_id, topic: str) -> None:
    Template.objects(id=template_id).update_one(set__topic=topic)


def drop_draft(template_id, saved_at=None) -> None:
    """Remove the draft (only the one saved at ``saved_at`` when given: a newer edit stays)."""
    if saved_at is None:
        Template.objects(id=template_id).update_one(unset__draft=True)
    else:
        Template.objects(id=template_id, draft__saved_at=saved_at).update_one(unset__draft=True)
