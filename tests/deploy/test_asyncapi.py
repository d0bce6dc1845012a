"""docs/asyncapi.yaml is generated from the contracts and can never drift."""

from __future__ import annotations

import json

import jsonschema_rs
import pytest
import yaml

from devstack import asyncapi
from shared.messaging.contracts import EVENTS, ContractError, envelope_for, parse_envelope
from shared.messaging.topology import PRODUCERS, QUEUES

DOC = yaml.safe_load(asyncapi.OUTPUT.read_text())


def test_the_committed_document_is_the_generated_one():
    assert asyncapi.OUTPUT.read_text() == asyncapi.render(), (
        "docs/asyncapi.yaml is out of date with shared/messaging: run `python -m devstack.asyncapi --write`"
    )


def _refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_reference_resolves_and_every_queue_and_event_is_described():
    for ref in _refs(DOC):
        node = DOC
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    assert DOC["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in DOC["channels"].values()}
    for plain in QUEUES:
        assert {plain, f"{plain}.retry", f"{plain}.dlq"} <= addresses
    assert set(PRODUCERS) <= addresses
    assert set(DOC["components"]["messages"]) == set(EVENTS)
    delivery = DOC["channels"]["queue.campaigns.delivery"]["messages"]
    assert set(delivery) == {event for event in EVENTS if event.startswith("delivery.")}


def _example(schema: dict):
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    return {"string": "x", "integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}}[kind]


@pytest.mark.parametrize("event", sorted(EVENTS))
def test_the_payload_schema_accepts_and_rejects_what_the_contract_does(event):
    validator = jsonschema_rs.validator_for(
        {"$ref": f"#/components/messages/{event}/payload", "components": DOC["components"]}
    )
    schema = DOC["components"]["schemas"][EVENTS[event].__name__]
    payload = {name: _example(schema["properties"][name]) for name in schema.get("required", [])}
    envelope = json.loads(envelope_for(EVENTS[event].from_dict(payload), PRODUCERS[event]).to_json())
    parse_envelope(envelope)
    assert validator.is_valid(envelope), list(validator.iter_errors(envelope))
    for name in schema.get("required", []):
        broken = {**envelope, "payload": {k: v for k, v in payload.items() if k != name}}
        with pytest.raises(ContractError):
            parse_envelope(broken)
        assert not validator.is_valid(broken), f"the schema accepts {event} without {name}"
    assert not validator.is_valid({**envelope, "schema_version": envelope["schema_version"] + 1})
    assert not validator.is_valid({**envelope, "type": "something.else"})
