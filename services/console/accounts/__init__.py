"""People's accounts, their sessions, their API tokens and the sign-in throttle.

The console owns four collections in the store (see the README):

- ``users``: email (validated by ``shared.normalize.email``), display name, role,
  state (invited, active, disabled), the Argon2id hash of the password
  (argon2-cffi, its RFC 9106 defaults), created / last sign-in / last seen times;
- ``console_sessions``: one document per signed-in browser, keyed by the SHA-256 of
  the session id the cookie carries; role and person, ``expires_at`` (absolute)
  and ``idle_expires_at`` (pushed forward while the person is active);
- ``api_tokens``: personal tokens, keyed by the SHA-256 of the token, with name,
  role (at most the owner's), optional expiry, last-used time;
- ``console_throttle``: failed sign-ins per account and per client address.

The services read ``console_sessions`` and ``api_tokens`` (shared/http/auth.py) so a
session or a personal token is accepted like a configured key: the console calls them
with ``vns_<session id>`` and a person calls them with ``vnt_<token>``.

Passwords follow NIST SP 800-63B: at least 12 characters, at most 128 (any Unicode,
spaces too, NFC), no composition rules, refused when on the list of common passwords
(``services/console/common-passwords.txt.gz``: Django 5.2.19's
``django/contrib/auth/common-passwords.txt.gz``, BSD-3-Clause, 19,640 passwords from
Royce Williams' list https://gist.github.com/roycewilliams/226886fd01572964e1431ac8afc999ce)
or equal to the person's email or name. A password or its hash is never logged nor shown.

One module per job, every name importable from here (``accounts.create_user``):
``base`` (roles, ``Refused``, the store handle and indexes), ``passwords``,
``users``, ``throttle``, ``sessions``, ``api_tokens``, ``links`` (invitations,
password resets and their mail), ``two_factor``, ``sealed`` (TOTP secrets encrypted
at rest) and ``demo`` (the local run's demo admin).
"""

from __future__ import annotations

from services.console.accounts.api_tokens import TOKEN_PREFIX, create_token, revoke_token, tokens_of
from services.console.accounts.base import GRANTS, RANK, ROLES, STATES, Refused, db, ensure_indexes
from services.console.accounts.demo import DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, demo_admin
from services.console.accounts.links import (
    LINK_LIFETIME,
    issue_link_token,
    mailer_smtp,
    peek_link_token,
    send_mail,
    use_link_token,
)
from services.console.accounts.passwords import (
    PASSWORD_MAX,
    PASSWORD_MIN,
    check_password,
    common_passwords,
    hash_password,
    password_matches,
)
from services.console.accounts.sealed import seal_plain_secrets
from services.console.accounts.sessions import (
    SESSION_PREFIX,
    end_session,
    end_session_of,
    end_sessions_of,
    live_session,
    open_session,
    sessions_of,
)
from services.console.accounts.throttle import (
    ACCOUNT_FAILURES,
    CLIENT_FAILURES,
    THROTTLE_WINDOW,
    failed,
    succeeded,
    throttled,
)
from services.console.accounts.two_factor import (
    CODE_TRIES,
    PENDING_LIFETIME,
    RECOVERY_CODES,
    confirm_totp,
    disable_totp,
    end_pending,
    pending_secret,
    pending_user,
    require_two_factor,
    second_factor_ok,
    start_pending,
    start_totp,
    totp_uri,
    two_factor_roles,
)
from services.console.accounts.users import (
    SECRET_FIELDS,
    authenticate,
    checked_email,
    checked_name,
    checked_role,
    create_user,
    end_everything,
    find_user,
    get_user,
    list_users,
    public_user,
    set_password,
    set_role,
    set_state,
)
from shared.http.auth import token_hash

__all__ = [
    "ROLES",
    "RANK",
    "GRANTS",
    "STATES",
    "Refused",
    "db",
    "ensure_indexes",
    "PASSWORD_MIN",
    "PASSWORD_MAX",
    "common_passwords",
    "check_password",
    "hash_password",
    "password_matches",
    "SECRET_FIELDS",
    "checked_email",
    "checked_name",
    "checked_role",
    "create_user",
    "get_user",
    "find_user",
    "list_users",
    "set_password",
    "set_role",
    "set_state",
    "end_everything",
    "public_user",
    "authenticate",
    "ACCOUNT_FAILURES",
    "CLIENT_FAILURES",
    "THROTTLE_WINDOW",
    "throttled",
    "failed",
    "succeeded",
    "SESSION_PREFIX",
    "open_session",
    "live_session",
    "end_session",
    "sessions_of",
    "end_session_of",
    "end_sessions_of",
    "TOKEN_PREFIX",
    "create_token",
    "tokens_of",
    "revoke_token",
    "LINK_LIFETIME",
    "issue_link_token",
    "peek_link_token",
    "use_link_token",
    "mailer_smtp",
    "send_mail",
    "RECOVERY_CODES",
    "PENDING_LIFETIME",
    "CODE_TRIES",
    "start_totp",
    "totp_uri",
    "confirm_totp",
    "disable_totp",
    "second_factor_ok",
    "start_pending",
    "pending_user",
    "pending_secret",
    "seal_plain_secrets",
    "end_pending",
    "two_factor_roles",
    "require_two_factor",
    "DEMO_ADMIN_EMAIL",
    "DEMO_ADMIN_PASSWORD",
    "demo_admin",
    "token_hash",
]
