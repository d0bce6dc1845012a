"""Settings of the console: ``VINCULO_CONSOLE_*`` (common ones may also be set
once as ``VINCULO_*``).

The console talks only to the four services' HTTP APIs. It keeps the common
fields (store, broker, keys) so one environment configures every container,
and connects to the store only for its own collections: people's accounts,
sessions and tokens (services/console/accounts/). The broker is not used.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from shared import settings as base
from shared.settings import CommonSettings, parse_bool, parse_float, parse_positive_int, parse_url, setting

PREFIX = "CONSOLE"


@dataclass(frozen=True)
class Settings(CommonSettings):
    mongo_uri: str = setting(
        "", common=True, doc="the store, for the console's users, sessions and tokens; required"
    )
    amqp_url: str = setting("", common=True, doc="not used by the console")
    api_keys: dict = setting(
        {}, parse=base.parse_api_keys, common=True, doc="not used by the console: sign-in asks a service"
    )
    # Required (checked in load): a default only keeps the dataclass field order valid.
    secret_key: str = setting(
        "",
        parse=base.parse_secret,
        common=True,
        doc="signs the session cookie and, through HKDF, gives the key that encrypts "
        "two-factor secrets (16+ characters); required",
    )
    bind: str = setting("127.0.0.1:8000", doc="host:port the console listens on")
    segments_url: str = setting(
        "http://127.0.0.1:8001", parse=parse_url("http", "https"), doc="base URL of the segments API"
    )
    campaigns_url: str = setting(
        "http://127.0.0.1:8002", parse=parse_url("http", "https"), doc="base URL of the campaigns API"
    )
    mailer_url: str = setting(
        "http://127.0.0.1:8003", parse=parse_url("http", "https"), doc="base URL of the mailer API"
    )
    listener_url: str = setting(
        "http://127.0.0.1:8004", parse=parse_url("http", "https"), doc="base URL of the listener API"
    )
    api_timeout: float = setting(10.0, parse=parse_float, doc="seconds the console waits for a service")
    secure_cookies: bool = setting(
        False, parse=parse_bool, doc="mark the session cookie Secure (set it behind HTTPS)"
    )
    default_locale: str = setting("es", doc="language before the user picks one: es or en")
    upload_max_bytes: int = setting(
        512 * 1024 * 1024,
        parse=parse_positive_int,
        doc="largest import file the console passes on (keep it at the segments "
        "API's VINCULO_SEGMENTS_IMPORT_MAX_BYTES)",
    )

    public_url: str = setting(
        "",
        parse=lambda value: value and parse_url("http", "https")(value),
        doc="the console's address as people reach it, for links in mails (empty: http://<bind>)",
    )
    oidc_issuer: str = setting(
        "",
        parse=lambda value: value and parse_url("http", "https")(value),
        doc="OpenID Connect issuer URL for single sign-on (empty: off)",
    )
    oidc_client_id: str = setting("", doc="the console's client id at the OpenID Connect provider")
    oidc_client_secret: str = setting("", doc="the console's client secret at the OpenID Connect provider")
    oidc_role_claim: str = setting("groups", doc="the id_token/userinfo claim whose values map to roles")
    oidc_role_map: dict = setting(
        {},
        parse=lambda raw: parse_role_map(raw),
        doc="claim value to role: value:role,value:role (the highest mapped role wins)",
    )
    oidc_create_users: bool = setting(
        False,
        parse=parse_bool,
        doc="create an account at first single sign-on for a person with a mapped role",
    )
    oidc_trust_email: bool = setting(
        False,
        parse=parse_bool,
        doc="take the provider's email as verified when it sends no email_verified claim (only for a "
        "provider whose addresses its own directory sets: where people edit theirs, anyone could sign in "
        "as anyone)",
    )
    session_idle_minutes: int = setting(
        60, parse=parse_positive_int, doc="a session ends after this many minutes without a request"
    )
    session_max_hours: int = setting(
        12, parse=parse_positive_int, doc="a session ends this many hours after sign-in, active or not"
    )

    @property
    def link_base(self) -> str:
        return (self.public_url or f"http://{self.bind}").rstrip("/")

    @property
    def session_idle(self) -> datetime.timedelta:
        return datetime.timedelta(minutes=self.session_idle_minutes)

    @property
    def session_max(self) -> datetime.timedelta:
        return datetime.timedelta(hours=self.session_max_hours)

    def service_urls(self) -> dict[str, str]:
        return {
            "segments": self.segments_url,
            "campaigns": self.campaigns_url,
            "mailer": self.mailer_url,
            "listener": self.listener_url,
        }


def parse_role_map(raw: str) -> dict[str, str]:
    """``value:role,value:role`` (a value may hold spaces, not commas)."""
    from shared.http.auth import ROLES

    mapping = {}
    for pair in filter(None, (part.strip() for part in raw.split(","))):
        value, _sep, role = pair.rpartition(":")
        if not value or role not in ROLES:
            raise ValueError(f"{pair!r} is not value:role with a role of {', '.join(ROLES)}")
        mapping[value] = role
    return mapping


def load(environ=None, **overrides) -> Settings:
    settings = base.load(Settings, PREFIX, environ, **overrides)
    if not settings.secret_key:
        raise base.ConfigError(
            "VINCULO_CONSOLE_SECRET_KEY (or VINCULO_SECRET_KEY) is required: "
            "signs the session cookie (16+ characters)"
        )
    if not settings.mongo_uri:
        raise base.ConfigError(
            "VINCULO_CONSOLE_MONGO_URI (or VINCULO_MONGO_URI) is required: "
            "the console keeps people's accounts and sessions in the store"
        )
    if settings.oidc_issuer and not settings.oidc_client_id:
        raise base.ConfigError(
            "VINCULO_CONSOLE_OIDC_CLIENT_ID is required when VINCULO_CONSOLE_OIDC_ISSUER is set"
        )
    return settings
