"""One analyst request must not stall the store for everyone (issue 15,
finding 9): rule cost limits checked when a rule is validated (they hold on
any store), and a server-side time limit (maxTimeMS) sent with every query
built from a rule, seen on the wire through pymongo's command monitoring.

The store stand-in accepts maxTimeMS and does not enforce it, so the
timeout's own answer (pymongo's ExecutionTimeout, 422 ``rule_too_slow`` at
preview) is only reached against a real MongoDB.
"""

from __future__ import annotations

import pytest
from pymongo import monitoring

from tests.support import ANALYST_KEY, MARKETER_KEY


class Commands(monitoring.CommandListener):
    """The store commands sent while ``active`` (registered before any client exists)."""

    def __init__(self):
        self.active = False
        self.seen: list[dict] = []

    def started(self, event):
        if self.active and event.command_name in ("find", "aggregate", "count"):
            self.seen.append(
                {
                    "name": event.command_name,
                    "collection": event.command.get(event.command_name),
                    "maxTimeMS": event.command.get("maxTimeMS"),
                }
            )

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


COMMANDS = Commands()
monitoring.register(COMMANDS)


@pytest.fixture
def client(service_env):
    from services.segments.app import create_app
    from services.segments.settings import load

    app = create_app(service_env.settings(load, rule_max_time_ms=1500))
    app.testing = True
    test_client = app.test_client()

    def call(method, path, key=ANALYST_KEY, **kwargs):
        return test_client.open(path, method=method, headers={"X-API-Key": key}, **kwargs)

    return call


def near(i: int) -> dict:
    return {"near": {"lat": 40.0 + i / 100, "lng": -3.7, "km": 5}}


def test_fifty_near_conditions_are_refused_at_validation_naming_the_node(client):
    from shared.models import Segment

    rule = {"any": [near(i) for i in range(50)]}  # 51 nodes: under the 200-node limit
    for method, path, key, body in (
        ("POST", "/segments/preview", ANALYST_KEY, {"rule": rule}),
        ("POST", "/segments", MARKETER_KEY, {"name": "Cerca de Madrid", "rule": rule}),
    ):
        answer = client(method, path, key=key, json=body)
        assert answer.status_code == 422, answer.get_json()
        fields = answer.get_json()["details"]["fields"]
        assert fields["rule.any.5.near"] == ["a rule may have at most 5 near conditions"]
    assert Segment.objects.count() == 0


def test_the_cost_sum_is_limited_whatever_the_node_kinds(client):
    costly = [{"purchases": {"days": 30 + i, "count": {"gte": 1}}} for i in range(12)]
    costly += [{"field": "city", "op": "contains", "value": f"Málaga {i}"} for i in range(20)]
    answer = client("POST", "/segments/preview", json={"rule": {"any": costly}})
    assert answer.status_code == 422, answer.get_json()
    [message] = answer.get_json()["details"]["fields"]["rule"]
    assert message.startswith("the rule is too costly to evaluate: it costs 260, at most 250")


def test_a_reasonable_rule_within_the_limits_is_previewed(client):
    from shared.models import Customer

    Customer(first_name="Íñigo", email="inigo@ejemplo.es", city="Málaga", country="ES").save()
    rule = {
        "all": [
            {"any": [near(i) for i in range(5)] + [{"field": "country", "op": "eq", "value": "ES"}]},
            {"purchases": {"days": 90, "count": {"gte": 0}}},
            {"field": "city", "op": "contains", "value": "malaga"},
        ]
    }
    answer = client("POST", "/segments/preview", json={"rule": rule, "sample": 5})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["count"] == 1


def rule_queries(run) -> list[dict]:
    COMMANDS.seen.clear()
    COMMANDS.active = True
    try:
        run()
    finally:
        COMMANDS.active = False
    return [c for c in COMMANDS.seen if c["collection"] == "customers"]


def test_every_query_built_from_a_rule_carries_max_time_ms(client, service_env):
    from bson import ObjectId, json_util

    from services.segments.bootstrap import build
    from services.segments.membership import Membership
    from services.segments.rules import compile_rule
    from services.segments.settings import load
    from shared.audience import iter_audience
    from shared.models import Customer, Segment

    rule = {"field": "country", "op": "eq", "value": "ES"}
    customer = Customer(first_name="Zoë", email="zoe@ejemplo.es", country="ES").save()
    segment = Segment(
        name="España", kind="dynamic", rule=rule, compiled=json_util.dumps(compile_rule(rule).filter)
    ).save()

    preview = rule_queries(lambda: client("POST", "/segments/preview", json={"rule": rule, "sample": 2}))
    assert preview and all(q["maxTimeMS"] == 1500 for q in preview), preview

    parts = build(service_env.settings(load, rule_max_time_ms=1500))
    membership = Membership(parts)
    try:
        evaluated = rule_queries(lambda: membership.evaluate([customer.id], segments=[segment]))
        recomputed = rule_queries(lambda: membership.recompute(segment))
    finally:
        parts.close()
    audience = rule_queries(lambda: list(iter_audience(segment, after=ObjectId("0" * 24), max_time_ms=1500)))
    for queries in (evaluated, recomputed, audience):
        assert queries and all(q["maxTimeMS"] == 1500 for q in queries), queries


def test_a_segment_stored_before_the_limits_keeps_its_dependencies(service_env):
    from bson import json_util

    from services.segments.membership import dependencies
    from services.segments.rules import compile_rule
    from shared.models import Segment

    rule = {"any": [near(i) for i in range(8)]}
    compiled = compile_rule(rule, cost_limits=False)
    segment = Segment(
        name="Antiguo", kind="dynamic", rule=rule, compiled=json_util.dumps(compiled.filter)
    ).save()
    assert dependencies(segment) == ({"location"}, False), "not re-evaluated on every change ('*')"
