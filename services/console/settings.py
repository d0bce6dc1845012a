"""Settings of the console: ``VINCULO_CONSOLE_*`` (common ones may also be set
once as ``VINCULO_*``).

The console talks only to the four services' HTTP APIs. It keeps the common
fields (store, broker, keys) so one environment configures every container,
but it never connects to the store or the broker: they are optional here.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared import settings as base
from shared.settings import CommonSettings, parse_bool, parse_float, parse_positive_int, parse_url, setting

PREFIX = "CONSOLE"


@dataclass(frozen=True)
class Settings(CommonSettings):
    mongo_uri: str = setting("", common=True, doc="not used by the console (it reads only the services' APIs)")
    amqp_url: str = setting("", common=True, doc="not used by the console")
    api_keys: dict = setting({}, parse=base.parse_api_keys, common=True,
                             doc="not used by the console: sign-in asks a service")
    # Required (checked in load): a default only keeps the dataclass field order valid.
    secret_key: str = setting("", parse=base.parse_secret, common=True,
                              doc="signs the session cookie (16+ characters); required")
    bind: str = setting("127.0.0.1:8000", doc="host:port the console listens on")
    segments_url: str = setting("http://127.0.0.1:8001", parse=parse_url("http", "https"),
                                doc="base URL of the segments API")
    campaigns_url: str = setting("http://127.0.0.1:8002", parse=parse_url("http", "https"),
                                 doc="base URL of the campaigns API")
    mailer_url: str = setting("http://127.0.0.1:8003", parse=parse_url("http", "https"),
                              doc="base URL of the mailer API")
    listener_url: str = setting("http://127.0.0.1:8004", parse=parse_url("http", "https"),
                                doc="base URL of the listener API")
    api_timeout: float = setting(10.0, parse=parse_float, doc="seconds the console waits for a service")
    secure_cookies: bool = setting(False, parse=parse_bool,
                                   doc="mark the session cookie Secure (set it behind HTTPS)")
    default_locale: str = setting("es", doc="language before the user picks one: es or en")
    upload_max_bytes: int = setting(512 * 1024 * 1024, parse=parse_positive_int,
                                    doc="largest import file the console passes on (keep it at the segments "
                                        "API's VINCULO_SEGMENTS_IMPORT_MAX_BYTES)")

    def service_urls(self) -> dict[str, str]:
        return {"segments": self.segments_url, "campaigns": self.campaigns_url,
                "mailer": self.mailer_url, "listener": self.listener_url}


def load(environ=None, **overrides) -> Settings:
    settings = base.load(Settings, PREFIX, environ, **overrides)
    if not settings.secret_key:
        raise base.ConfigError("VINCULO_CONSOLE_SECRET_KEY (or VINCULO_SECRET_KEY) is required: "
                               "signs the session cookie (16+ characters)")
    return settings
