"""Alert episodes and the webhook calls made for them."""

from __future__ import annotations

import datetime

import mongoengine as me
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from services.listener.models import AlertEpisode, WebhookCall


def open_episode(query_id: ObjectId) -> AlertEpisode | None:
    return AlertEpisode.objects(open_for=query_id).first()


def claim_open_episode(episode: AlertEpisode) -> bool:
    """Insert a newly opened episode; False when the query already has one open (the unique
    ``open_for`` index: another replica opened it first)."""
    try:
        episode.save(force_insert=True)
    except (me.NotUniqueError, DuplicateKeyError):
        return False
    return True


def episode_exists(episode_id: ObjectId) -> bool:
    return AlertEpisode.objects(id=episode_id).only("id").first() is not None


def close_episode(episode_id: ObjectId, now: datetime.datetime) -> None:
    AlertEpisode.objects(id=episode_id, status="open").update_one(
        set__status="closed", set__closed_at=now, unset__open_for=True
    )


def raise_episode_peak(episode_id: ObjectId, negative: int) -> None:
    AlertEpisode.objects(id=episode_id).update_one(set__peak_negative_count=negative)


def record_webhook_call(**call) -> None:
    """One attempt: episode_id, query_id, url, attempt, status_code, error, ok."""
    WebhookCall(**call).save()


def set_webhook_status(episode_id: ObjectId, status: str) -> None:
    AlertEpisode.objects(id=episode_id).update_one(set__webhook_status=status)


def episode_page(
    query_id: ObjectId | None, status: str | None, after: ObjectId | None, limit: int
) -> tuple[int, list[AlertEpisode]]:
    """(how many match, the page after ``after``), newest first."""
    objects = AlertEpisode.objects
    if query_id:
        objects = objects(query_id=query_id)
    if status:
        objects = objects(status=status)
    total = objects.count()
    if after:
        objects = objects(id__lt=after)
    return total, list(objects.order_by("-id").limit(limit))
