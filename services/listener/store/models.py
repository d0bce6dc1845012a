"""The stored versions of the sentiment model (``sentiment_models``, no document class:
each row holds a whole model as JSON, with its evaluation)."""

from __future__ import annotations

from mongoengine.connection import ConnectionFailure, get_db

from services.listener.models import Mention
from shared.store import utcnow

SENTIMENT_MODELS = "sentiment_models"


def _connected():
    """The collection, or None when no store is connected (scoring then uses the shipped model)."""
    try:
        return get_db()[SENTIMENT_MODELS]
    except ConnectionFailure:
        return None


def _collection():
    return Mention._get_collection().database[SENTIMENT_MODELS]


def active_model() -> dict | None:
    """``{_id, version}`` of the active version (the last activated), None when none is or no
    store is connected."""
    collection = _connected()
    if collection is None:
        return None
    return collection.find_one({"active": True}, {"version": 1}, sort=[("activated_at", -1)])


def stored_model(row_id) -> dict:
    """A stored version's whole row (``model`` holds the model)."""
    return _connected().find_one({"_id": row_id})


def model_version_taken(version: str) -> bool:
    return _collection().find_one({"version": version}, {"_id": 1}) is not None


def add_model(doc: dict) -> None:
    _collection().insert_one(doc)


def use_model(version: str) -> bool:
    """Make ``version`` the only active one; False when no such version is stored."""
    collection = _collection()
    if collection.find_one({"version": version}, {"_id": 1}) is None:
        return False
    collection.update_many({"active": True, "version": {"$ne": version}}, {"$set": {"active": False}})
    collection.update_one({"version": version}, {"$set": {"active": True, "activated_at": utcnow()}})
    return True


def use_shipped_model() -> None:
    """No stored version active: the shipped model is used."""
    _collection().update_many({"active": True}, {"$set": {"active": False}})


def model_versions():
    """Every stored version without its model, newest first."""
    return _collection().find({}, {"model": 0}).sort("created_at", -1)
