"""Contacts that must never be messaged or re-imported, kept only as a
one-way hash (an erased person's email and phone live on here, unreadable)."""

from __future__ import annotations

import hashlib

import mongoengine as me

from shared.store import utcnow

_SALT = b"vinculo-suppression-v1:"


def contact_hash(kind: str, value: str) -> str:
    """sha256 of the normalised value; the same in every service."""
    return hashlib.sha256(_SALT + kind.encode() + b":" + value.encode()).hexdigest()


class SuppressedContact(me.Document):
    hash = me.StringField(required=True, max_length=64)
    kind = me.StringField(required=True, choices=("email", "phone"))
    reason = me.StringField(required=True, choices=("erased", "bounced", "complained", "do_not_contact"))
    at = me.DateTimeField(default=utcnow)

    meta = {"collection": "suppressed_contacts", "indexes": [{"fields": ["hash"], "unique": True}]}

    @classmethod
    def is_suppressed(cls, kind: str, value: str | None) -> bool:
        return bool(value) and cls.objects(hash=contact_hash(kind, value)).only("id").first() is not None
