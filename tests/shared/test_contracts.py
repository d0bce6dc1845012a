"""Message contracts: the envelope and payloads validate, naming the field."""

from __future__ import annotations

import json

import pytest

from shared.messaging.contracts import ContractError, SendRequested, envelope_for, parse_envelope


def test_envelope_round_trip_keeps_unicode_and_types():
    event = SendRequested(
        campaign_id="c1",
        channel="email",
        topic="newsletter",
        template_id="t1",
        customer_ids=["a", "b"],
        variant="B",
    )
    envelope = envelope_for(event, "campaigns", correlation_id="corr-1")
    parsed = parse_envelope(envelope.to_json().encode())
    assert parsed.event() == event
    assert parsed.correlation_id == "corr-1"
    assert parsed.schema_version == 1


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"{not json", "body is not JSON"),
        (b"\xff\xfe", "body is not UTF-8"),
        (b"[1, 2]", "body must be a JSON object"),
        (json.dumps({"type": "send.requested"}).encode(), "message_id is required"),
    ],
)
def test_malformed_bodies_are_rejected_with_the_reason(body, reason):
    with pytest.raises(ContractError, match=reason):
        parse_envelope(body)


def _envelope(**changes):
    event = SendRequested(
        campaign_id="c1", channel="email", topic="newsletter", template_id="t1", customer_ids=["a"]
    )
    data = json.loads(envelope_for(event, "campaigns").to_json())
    data.update(changes)
    return data


def test_unknown_type_and_unsupported_version_are_contract_errors():
    with pytest.raises(ContractError, match="'nope.nope' is not a known message type"):
        parse_envelope(_envelope(type="nope.nope"))
    with pytest.raises(ContractError, match="schema_version 7 of send.requested is not supported"):
        parse_envelope(_envelope(schema_version=7))


def test_payload_fields_are_checked_by_name():
    with pytest.raises(ContractError, match="payload.customer_ids is required"):
        parse_envelope(
            _envelope(payload={"campaign_id": "c", "channel": "email", "topic": "t", "template_id": "t"})
        )
    with pytest.raises(ContractError, match=r"payload.customer_ids\[1\] must be a string"):
        parse_envelope(
            _envelope(
                payload={
                    "campaign_id": "c",
                    "channel": "email",
                    "topic": "t",
                    "template_id": "t",
                    "customer_ids": ["a", 2],
                }
            )
        )
