"""What every part of the accounts shares: the roles, the refusal, the store handle.

``Refused(field, code)`` is how every function here refuses a value a person
gave (``code`` is the message key the page shows).
"""

from __future__ import annotations

from shared import store

ROLES = ("admin", "marketer", "community_manager", "analyst")
# What a role may hand to a token it creates: its own role or one that sees and does less.
RANK = {"admin": 3, "marketer": 2, "community_manager": 1, "analyst": 0}
GRANTS = {
    "admin": ROLES,
    "marketer": ("marketer", "analyst"),
    "community_manager": ("community_manager",),
    "analyst": ("analyst",),
}
STATES = ("invited", "active", "disabled")


class Refused(ValueError):
    """A value a person gave is not acceptable; ``field`` names it, ``code`` is the message key."""

    def __init__(self, field: str, code: str):
        super().__init__(f"{field}: {code}")
        self.field, self.code = field, code


def db():
    return store.db()


def ensure_indexes() -> None:
    db().users.create_index("email", unique=True)
    db().console_sessions.create_index("user_id")
    db().api_tokens.create_index("user_id")
