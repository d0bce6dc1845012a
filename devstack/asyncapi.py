"""Generate docs/asyncapi.yaml (AsyncAPI 3.0) from the message contracts.

Every exchange, routing key, queue (with its retry and dead-letter queue) and
message payload comes from ``shared/messaging/topology.py`` and
``shared/messaging/contracts.py``; nothing is written by hand, and
tests/deploy/test_asyncapi.py fails when the committed file differs.

    python -m devstack.asyncapi            # print it
    python -m devstack.asyncapi --write    # update docs/asyncapi.yaml
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from shared.messaging.contracts import EVENTS, Envelope, Event
from shared.messaging.topology import PRODUCERS, QUEUES, SERVICES

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "asyncapi.yaml"
AMQP_BINDING = "0.3.0"
HEADER = (
    "# GENERATED from shared/messaging/topology.py and contracts.py by\n"
    "# `python -m devstack.asyncapi --write`: do not edit by hand.\n"
)


def topic_matches(pattern: str, key: str) -> bool:
    """RabbitMQ topic matching: ``*`` is one word, ``#`` zero or more."""
    parts = []
    for word in pattern.split("."):
        parts.append({"*": r"[^.]+", "#": r".*"}.get(word, re.escape(word)))
    regex = r"\.".join(parts).replace(r".*\.", r"(?:.*\.)?").replace(r"\..*", r"(?:\..*)?")
    return re.fullmatch(regex, key) is not None


def json_schema(annotation: Any) -> dict:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        schema = json_schema(inner[0])
        if type(None) in args and "type" in schema:
            schema = {**schema, "type": [schema["type"], "null"]}
        return schema
    if origin is list:
        return {"type": "array", "items": json_schema(args[0])}
    if origin is dict or annotation is dict:
        return {"type": "object"}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if annotation in simple:
        return {"type": simple[annotation]}
    return {}


def _doc(cls) -> str | None:
    doc = cls.__dict__.get("__doc__") or ""
    if not doc or doc.startswith(f"{cls.__name__}("):  # dataclass's generated signature
        return None
    return " ".join(doc.split())


def event_schema(cls: type[Event]) -> dict:
    hints = typing.get_type_hints(cls)
    properties, required = {}, []
    for field in dataclasses.fields(cls):
        schema = json_schema(hints[field.name])
        if field.default is not dataclasses.MISSING:
            schema["default"] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            schema["default"] = field.default_factory()
        else:
            required.append(field.name)
        properties[field.name] = schema
    schema = {"type": "object"}
    if _doc(cls):
        schema["description"] = _doc(cls)
    if required:
        schema["required"] = required
    schema["properties"] = properties
    return schema


def envelope_schema() -> dict:
    hints = typing.get_type_hints(Envelope)
    return {
        "type": "object",
        "description": "Every message is this JSON envelope (never pickle); `payload` depends on `type`.",
        "required": [f.name for f in dataclasses.fields(Envelope) if f.default is dataclasses.MISSING],
        "properties": {
            **{f.name: json_schema(hints[f.name]) for f in dataclasses.fields(Envelope)},
            "occurred_at": {"type": "string", "format": "date-time"},
        },
    }


def queue_events(plain: str) -> list[str]:
    return [
        event
        for event, producer in PRODUCERS.items()
        if any(service == producer and topic_matches(pattern, event) for service, pattern in QUEUES[plain])
    ]


def _ref(*path: str) -> dict:
    return {"$ref": "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in path)}


def build() -> dict:
    unknown = sorted(set(EVENTS) - set(PRODUCERS))
    if unknown:
        raise SystemExit(f"event types without a producer in topology.PRODUCERS: {unknown}")
    channels, operations, messages, schemas = {}, {}, {}, {"Envelope": envelope_schema()}
    for event, producer in PRODUCERS.items():
        cls = EVENTS[event]
        schemas[cls.__name__] = event_schema(cls)
        messages[event] = {
            "name": event,
            "title": cls.__name__,
            "summary": f"{event} (schema version {cls.schema_version}), announced by {producer}",
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {
                    "correlation_id": {"type": "string", "description": "follows one fact across services"}
                },
            },
            "payload": {
                "allOf": [
                    _ref("components", "schemas", "Envelope"),
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": event},
                            "schema_version": {"const": cls.schema_version},
                            "producer": {"const": producer},
                            "payload": _ref("components", "schemas", cls.__name__),
                        },
                    },
                ]
            },
            "bindings": {
                "amqp": {"contentEncoding": "utf-8", "messageType": event, "bindingVersion": AMQP_BINDING}
            },
        }
        channels[event] = {
            "address": event,
            "title": f"{event} on {producer}.events",
            "description": f"Routing key `{event}` on the topic exchange `{producer}.events`.",
            "messages": {event: _ref("components", "messages", event)},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {
                        "name": f"{producer}.events",
                        "type": "topic",
                        "durable": True,
                        "autoDelete": False,
                        "vhost": "/",
                    },
                    "bindingVersion": AMQP_BINDING,
                }
            },
        }
        operations[f"{producer}.send.{event}"] = {
            "action": "send",
            "title": f"{producer} publishes {event}",
            "description": "Published with publisher confirms after the store write it announces "
            "(through the outbox when the broker is down).",
            "channel": _ref("channels", event),
            "messages": [_ref("channels", event, "messages", event)],
        }
    for plain, bindings in QUEUES.items():
        consumer = plain.split(".", 1)[0]
        events = queue_events(plain)
        bound = ", ".join(f"`{service}.events` with `{pattern}`" for service, pattern in bindings)
        queue_binding = {"durable": True, "exclusive": False, "autoDelete": False, "vhost": "/"}
        channels[f"queue.{plain}"] = {
            "address": plain,
            "title": f"queue {plain}",
            "description": (
                f"Quorum queue of the {consumer} worker, bound to {bound}. A transient failure "
                f"waits in `{plain}.retry` (per-message TTL, doubling) and comes back; a malformed, "
                f"poison or exhausted message goes to `{plain}.dlq`."
            ),
            "messages": {event: _ref("components", "messages", event) for event in events},
            "bindings": {
                "amqp": {
                    "is": "queue",
                    "queue": {"name": plain, **queue_binding},
                    "bindingVersion": AMQP_BINDING,
                }
            },
        }
        channels[f"queue.{plain}.retry"] = {
            "address": f"{plain}.retry",
            "title": f"queue {plain}.retry",
            "description": (
                f"Delayed retries of `{plain}`: published with an expiration and the "
                f"`x-vinculo-attempt` header; dead-letters back into `{plain}` when it expires."
            ),
            "messages": {event: _ref("components", "messages", event) for event in events},
            "bindings": {
                "amqp": {
                    "is": "queue",
                    "queue": {"name": f"{plain}.retry", **queue_binding},
                    "bindingVersion": AMQP_BINDING,
                }
            },
        }
        channels[f"queue.{plain}.dlq"] = {
            "address": f"{plain}.dlq",
            "title": f"queue {plain}.dlq",
            "description": (
                "Dead letters, body kept as it came, with headers `x-vinculo-reason`, "
                "`x-vinculo-queue`, `x-vinculo-routing-key`, `x-vinculo-attempts` and "
                "`x-vinculo-failed-at`. Nothing consumes it: operators inspect and re-publish."
            ),
            "messages": {event: _ref("components", "messages", event) for event in events},
            "bindings": {
                "amqp": {
                    "is": "queue",
                    "queue": {"name": f"{plain}.dlq", **queue_binding},
                    "bindingVersion": AMQP_BINDING,
                }
            },
        }
        operations[f"{consumer}.receive.{plain}"] = {
            "action": "receive",
            "title": f"{consumer} worker consumes {plain}",
            "description": "Acked after the work is stored; a message id already handled is acked and skipped.",
            "channel": _ref("channels", f"queue.{plain}"),
            "messages": [_ref("channels", f"queue.{plain}", "messages", event) for event in events],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Vínculo events",
            "version": "1.0.0",
            "description": (
                "The events the Vínculo services exchange through RabbitMQ: one topic exchange "
                f"per producing service ({', '.join(f'`{s}.events`' for s in SERVICES)}), the "
                "event type as routing key, queues named `<consumer>.<event>`. "
                "`VINCULO_BROKER_NAMESPACE` prefixes every exchange and queue name."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "rabbitmq": {
                "host": "rabbitmq:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "The broker of docker-compose.yml (VINCULO_AMQP_URL).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    return HEADER + yaml.safe_dump(build(), sort_keys=False, allow_unicode=True, width=110)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {OUTPUT.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        OUTPUT.parent.mkdir(exist_ok=True)
        OUTPUT.write_text(text)
        print(f"wrote {OUTPUT.relative_to(ROOT)}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
