"""``python -m services.console api``: run the web console.

``python -m services.console users create --email ... --role admin [--name ...]``: create
a person's account (the first admin of a deployment); the password is read from
``VINCULO_NEW_PASSWORD`` when set, else one is generated and printed once.
"""

import argparse
import os
import secrets
import sys

from services.console.settings import load
from shared.entry import main, run_api


def api(settings, _argv):
    from services.console.app import create_app

    run_api(create_app, settings)


def users(argv):
    """An operator's command, not a part that runs (so no container: devstack.inventory
    lists the parts from ``--help``)."""
    from services.console import accounts
    from shared import store
    from shared.settings import ConfigError

    try:
        settings = load()
    except ConfigError as exc:
        print(f"vinculo-console: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

    parser = argparse.ArgumentParser(prog="python -m services.console users")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create an active account")
    create.add_argument("--email", required=True)
    create.add_argument("--role", required=True, choices=accounts.ROLES)
    create.add_argument("--name", help="display name (default: the email's local part)")
    args = parser.parse_args(argv)
    store.connect(settings.mongo_uri)
    accounts.ensure_indexes()
    password = os.environ.get("VINCULO_NEW_PASSWORD") or "-".join(secrets.token_urlsafe(6) for _ in range(3))
    try:
        user = accounts.create_user(
            args.email, args.name or args.email.partition("@")[0], args.role, password
        )
    except accounts.Refused as exc:
        print(f"vinculo-console: {exc.field} refused: {exc.code}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"created {user['role']} {user['email']} (id {user['_id']})")
    if not os.environ.get("VINCULO_NEW_PASSWORD"):
        print(f"password: {password}  (shown once; change it on the console's account page)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["users"]:
        users(sys.argv[2:])
    else:
        main("console", load, {"api": api})
