"""Settings read once from the environment, with one prefix per service.

Each service declares a frozen dataclass whose fields carry an ``env`` spec;
``load(Settings, "MAILER")`` reads ``VINCULO_MAILER_<NAME>`` first and, for
fields marked ``common``, falls back to ``VINCULO_<NAME>`` so a local run can
set the store and broker once for every service. A missing or invalid value
raises ConfigError naming the variable; entry points turn it into a one-line
message and exit code 2.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from shared import personal


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable."""


_MISSING = object()


def setting(
    default: Any = _MISSING, *, parse: Callable[[str], Any] = str, common: bool = False, doc: str = ""
) -> Any:
    """Declare a settings field: its parser, default and whether it is shared."""
    meta = {"parse": parse, "common": common, "doc": doc}
    if default is _MISSING:
        return dataclasses.field(metadata=meta)
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


# Parsers: each raises ValueError with a short reason.


def parse_int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"must be a whole number, got {raw!r}") from None


def parse_positive_int(raw: str) -> int:
    value = parse_int(raw)
    if value <= 0:
        raise ValueError(f"must be greater than 0, got {raw!r}")
    return value


def parse_non_negative_int(raw: str) -> int:
    value = parse_int(raw)
    if value < 0:
        raise ValueError(f"must be 0 or more, got {raw!r}")
    return value


def parse_float(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"must be a number, got {raw!r}") from None


def parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"must be true or false, got {raw!r}")


def parse_url(*schemes: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        parts = urlsplit(raw)
        if parts.scheme not in schemes or not (parts.netloc or parts.path):
            raise ValueError(
                f"must be a URL starting with {' or '.join(f'{s}://' for s in schemes)}, got {raw!r}"
            )
        return raw

    return parse


# Secrets published in this repository (examples, old demo and test defaults): anyone can read
# them, so links and tokens signed with them could be forged. Refused at start-up.
PUBLISHED_SECRETS = frozenset(
    {
        "change-me-to-32-random-characters",  # deploy/example.env
        "local-demo-secret-change-me",  # the local run's fixed secret before it generated one
        "test-secret-key-0123456789",  # the tests' fixed secret before they generated one
        "bench-secret-0123456789",
    }
)


def parse_secret(raw: str) -> str:
    if len(raw) < 16:
        raise ValueError("must be at least 16 characters long")
    if raw in PUBLISHED_SECRETS or "change-me" in raw.lower():
        raise ValueError(
            "is a secret published in the Vínculo repository (an example); "
            "set your own, e.g. the output of: python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'"
        )
    return raw


def parse_api_keys(raw: str) -> dict[str, str]:
    """``key:role,key:role`` -> {key: role}."""
    from shared.http.auth import ROLES

    keys: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, sep, role = item.rpartition(":")
        if not sep or not key:
            raise ValueError(f"expected key:role pairs separated by commas, got {item!r}")
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
        if len(key) < 8:
            raise ValueError("each API key must be at least 8 characters long")
        if "change-me" in key.lower():
            raise ValueError(
                f"the {role} key is deploy/example.env's, published in the Vínculo repository; set your own"
            )
        keys[key] = role
    if not keys:
        raise ValueError("must list at least one key:role")
    return keys


def parse_csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def parse_regions(raw: str) -> tuple[str, ...]:
    """Comma-separated ISO 3166 country codes phonenumbers knows (ES,MX,US)."""
    import phonenumbers

    regions = tuple(code.strip().upper() for code in raw.split(",") if code.strip())
    unknown = [code for code in regions if code not in phonenumbers.SUPPORTED_REGIONS]
    if not regions or unknown:
        raise ValueError(f"must be country codes such as ES,MX,US (not {', '.join(unknown) or 'empty'})")
    return regions


def env_name(prefix: str, field_name: str) -> str:
    return f"VINCULO_{prefix}_{field_name.upper()}"


def load(cls, prefix: str, environ: Mapping[str, str] | None = None, **overrides):
    """Build ``cls`` from the environment; ``overrides`` win (tests, run command)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.name in overrides:
            values[field.name] = overrides[field.name]
            continue
        meta = field.metadata
        names = [env_name(prefix, field.name)]
        if meta.get("common"):
            names.append(f"VINCULO_{field.name.upper()}")
        name, raw = next(((n, environ[n]) for n in names if n in environ), (names[0], None))
        if raw is None:
            if field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING:
                continue
            also = f" (or {names[1]})" if len(names) > 1 else ""
            raise ConfigError(f"{name}{also} is required: {meta.get('doc') or field.name}")
        try:
            values[field.name] = meta.get("parse", str)(raw)
        except ValueError as exc:
            raise ConfigError(f"{name} {exc}") from None
    return cls(**values)


def describe(cls, prefix: str) -> list[tuple[str, str, str]]:
    """(variable, default or 'required', doc) for every field: the README table."""
    rows = []
    for field in dataclasses.fields(cls):
        if field.default is not dataclasses.MISSING:
            default = repr(field.default)
        elif field.default_factory is not dataclasses.MISSING:
            default = repr(field.default_factory())
        else:
            default = "required"
        rows.append((env_name(prefix, field.name), default, field.metadata.get("doc", "")))
    return rows


@dataclasses.dataclass(frozen=True)
class CommonSettings:
    """What every service needs; services subclass it and add their own fields."""

    mongo_uri: str = setting(
        parse=parse_url("mongodb", "mongodb+srv"), common=True, doc="MongoDB URI including the database name"
    )
    amqp_url: str = setting(
        parse=parse_url("amqp", "amqps"),
        common=True,
        doc="RabbitMQ URL, e.g. amqp://guest:guest@127.0.0.1:5672//",
    )
    api_keys: dict = setting(
        parse=parse_api_keys, common=True, doc="API keys and their roles: key:role,key:role"
    )
    secret_key: str = setting(
        parse=parse_secret,
        common=True,
        doc="secret for signed links and tokens, and the key two-factor secrets are sealed with (16+ characters, not one published in the repository)",
    )
    broker_namespace: str = setting(
        "", common=True, doc="prefix for exchange and queue names (isolates test runs)"
    )
    log_level: str = setting("INFO", common=True, doc="logging level")
    max_body_bytes: int = setting(
        1024 * 1024,
        parse=parse_positive_int,
        common=True,
        doc="largest request body an api takes (imports have their own limit)",
    )
    trusted_proxies: int = setting(
        0,
        parse=parse_non_negative_int,
        common=True,
        doc="reverse proxies (nginx, a load balancer) in front of the api or console whose "
        "X-Forwarded-For is trusted: the client's address for throttles and consent records is "
        "the one the outermost of them saw; 0 reads no forwarded header (a client could forge "
        "it), so set it only where every request comes through that many proxies",
    )
    phone_regions: tuple = setting(
        personal.TEXT_PHONE_REGIONS,
        parse=parse_regions,
        common=True,
        doc="countries (ISO codes) whose phone numbers, written without a +prefix in free text an "
        "analyst reads (a bounce or SMS provider's reason, a consent's note, an import's cells), are "
        "masked; list those your customers live in (one pass of the number matcher each)",
    )
    worker_max_attempts: int = setting(
        5, parse=parse_positive_int, doc="tries of a failing message before it is dead-lettered"
    )
    worker_retry_delay: float = setting(0.5, parse=parse_float, doc="first retry delay in seconds (doubles)")
    worker_max_retry_delay: float = setting(30.0, parse=parse_float, doc="longest retry delay in seconds")
    worker_prefetch: int = setting(20, parse=parse_positive_int, doc="unacked messages per consumer")
    web_workers: int = setting(2, parse=parse_positive_int, doc="gunicorn worker processes for the api")
    web_threads: int = setting(8, parse=parse_positive_int, doc="threads per api worker process")
    metrics_port: int = setting(
        0,
        parse=parse_int,
        doc="port of the Prometheus /metrics server of a worker, scheduler or "
        "poller (0: none); the api serves /metrics itself",
    )
    queue_lag_interval: float = setting(
        15.0, parse=parse_float, doc="seconds between samples of the queue-lag metric in workers"
    )
    rule_max_time_ms: int = setting(
        10_000,
        parse=parse_positive_int,
        common=True,
        doc="server-side time limit (maxTimeMS) of every store query built from a "
        "segment rule: preview, membership, audience",
    )
