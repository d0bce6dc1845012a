"""The local run's demo admin (devstack/run.py)."""

from __future__ import annotations

from services.console.accounts.base import ensure_indexes
from services.console.accounts.passwords import password_matches
from services.console.accounts.users import create_user, find_user
from shared import store

DEMO_ADMIN_EMAIL = "admin@vinculo.example"
DEMO_ADMIN_PASSWORD = "cafe con leche en la plaza"


def demo_admin(mongo_uri: str) -> str:
    """The local run's demo admin (created once); the line that tells how to sign in."""
    store.connect(mongo_uri)
    ensure_indexes()
    user = find_user(DEMO_ADMIN_EMAIL)
    if user is None:
        create_user(DEMO_ADMIN_EMAIL, "Admin demo", "admin", DEMO_ADMIN_PASSWORD)
    elif not password_matches(user.get("password_hash"), DEMO_ADMIN_PASSWORD):
        return f"demo admin: {DEMO_ADMIN_EMAIL} (password as you last set it)"
    return f"demo admin: {DEMO_ADMIN_EMAIL} / password: {DEMO_ADMIN_PASSWORD}"
