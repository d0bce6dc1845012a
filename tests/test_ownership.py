"""Each collection has one owning service (ARCHITECTURE.md, "The services and what each owns").

The table of owners is derived from the models: every mongoengine document with
``meta = {"collection": ...}`` under ``services/<service>/`` belongs to that service; the
documents of the shared profile store (``shared/models/<module>.py``) belong to the service
named for their module in ``SHARED_MODEL_OWNERS``; the few collections a service touches
without a model (``db().users``, ``COLLECTION = "sentiment_models"``) are declared in
``WITHOUT_MODEL``. An ast scan of ``services/`` then fails when a service's code

- imports another service's package (``services.<other>``: ask its API instead),
- names another service's collection (``db()["templates"]``, ``db().users``,
  ``get_collection("mentions")``, ``SOMETHING_COLLECTION = "..."``),
- imports a model owned by another service, unless the pair is in ``READS`` with its reason
  (the customer profile is the one collection every service reads),
- or calls a write method (``save``, ``update_one``, ``insert_one``, ``delete``...) on an
  expression that starts at another service's model (``Customer._get_collection().update_one``,
  ``SuppressedContact(...).save()``).

Infrastructure collections are declared in ``shared/`` and used by every service through
shared code, each service's copy being its own by key, which ``test_infrastructure_rows_are_per_service``
checks: ``processed_messages`` rows are unique per ``consumer`` (the consuming queue,
``<service>.<event>``), so no service reads or writes another's dedupe records; ``outbox``
rows are envelopes that name their producer, and a relay publishes each one to its
producer's exchange (``Topology.exchange_for``), so a service only ever publishes its own events.
``api_tokens`` and ``console_sessions`` belong to the console; the other services only read
them through ``shared/http/auth.py`` (the shared auth, not service code).

``interactions`` (the profile timeline) belongs to segments, with the profile: the
listener and the mailer announce their facts (``mention.received``, ``mention.corrected``,
``delivery.*``, ``consent.changed``) and segments' ``segments.facts`` consumer appends them;
the preference center's "my data" asks segments' API for a customer's timeline
(``GET /customers/<id>/interactions``), so no other service imports ``Interaction``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("segments", "campaigns", "mailer", "listener", "console")

SHARED_MODEL_OWNERS = {
    "customer": "segments",
    "segment": "segments",
    "consent": "mailer",
    "suppression": "mailer",
    "interaction": "segments",
}
WITHOUT_MODEL = {
    "sentiment_models": "listener",
    "users": "console",
    "console_sessions": "console",
    "api_tokens": "console",
    "console_throttle": "console",
    "console_pending": "console",
    "console_settings": "console",
}
INFRASTRUCTURE = {"outbox", "processed_messages"}

# (reading service, model of another service): why the read is right
READS = {
    **{
        (service, "Customer"): "the customer profile is the one collection every service reads"
        for service in ("campaigns", "mailer", "listener")
    },
    ("campaigns", "Segment"): "a campaign resolves its audience from the segment's compiled query",
    ("campaigns", "SegmentMember"): "a campaign resolves its audience from the segment's members",
    ("mailer", "Segment"): "reachability and invitations read a segment's members, like campaigns",
    ("mailer", "SegmentMember"): "reachability and invitations read a segment's members, like campaigns",
    ("segments", "SuppressedContact"): "import and create refuse a suppressed contact (read only)",
    ("segments", "ConsentState"): "a profile's page shows its consents (read only)",
}
WRITES = {
    "save",
    "insert",
    "insert_one",
    "insert_many",
    "update",
    "update_one",
    "update_many",
    "replace_one",
    "delete",
    "delete_one",
    "delete_many",
    "modify",
    "upsert_one",
    "find_one_and_update",
    "find_one_and_replace",
    "find_one_and_delete",
    "bulk_write",
    "drop",
}


def _meta_collections(path: Path) -> dict[str, str]:
    """class name -> collection of the documents declared in ``path``."""
    found = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.ClassDef):
            continue
        for statement in node.body:
            if (
                isinstance(statement, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "meta" for t in statement.targets)
                and isinstance(statement.value, ast.Dict)
            ):
                for key, value in zip(statement.value.keys, statement.value.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "collection":
                        found[node.name] = value.value
    return found


def ownership() -> tuple[dict[str, str], dict[str, str]]:
    """(collection -> owner, model class -> owner)."""
    collections, models = dict(WITHOUT_MODEL), {}
    for service in SERVICES:
        for path in sorted((ROOT / "services" / service).rglob("*.py")):
            for cls, collection in _meta_collections(path).items():
                collections[collection], models[cls] = service, service
    for path in sorted((ROOT / "shared" / "models").glob("*.py")):
        for cls, collection in _meta_collections(path).items():
            owner = SHARED_MODEL_OWNERS[path.stem]
            collections[collection], models[cls] = owner, owner
    return collections, models


def _root(node: ast.AST) -> ast.AST:
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def _is_database(node: ast.AST) -> bool:
    """``db()``, ``store.db()``, ``get_db()``, ``something.database``, a name ``db``."""
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name in ("db", "get_db")
    if isinstance(node, ast.Attribute):
        return node.attr == "database"
    return isinstance(node, ast.Name) and node.id in ("db", "database")


def _named_collections(tree: ast.AST):
    """(line, collection name) for every place the code names a collection."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _is_database(node.value):
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                yield node.lineno, node.slice.value
        elif isinstance(node, ast.Attribute) and _is_database(node.value):
            yield node.lineno, node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get_collection", "create_collection")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            yield node.lineno, node.args[0].value
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            if any(isinstance(t, ast.Name) and "COLLECTION" in t.id for t in node.targets):
                yield node.lineno, node.value.value


def violations(service: str, where: str, source: str, collections: dict, models: dict) -> list[str]:
    """What in ``source`` (a module of ``service``, called ``where``) reaches into another's data."""
    tree = ast.parse(source, where)
    found = []
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] == "services" and len(parts) > 1 and parts[1] != service:
                found.append(f"{where}:{node.lineno} imports {node.module} (another service)")
            for alias in node.names:
                owner = models.get(alias.name)
                if owner is None or owner == service:
                    continue
                imported.add(alias.name)
                if (service, alias.name) not in READS:
                    found.append(f"{where}:{node.lineno} imports {alias.name} (owned by {owner})")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "services" and len(parts) > 1 and parts[1] != service:
                    found.append(f"{where}:{node.lineno} imports {alias.name} (another service)")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITES:
            root = _root(node.func.value)
            if isinstance(root, ast.Name) and root.id in imported:
                found.append(f"{where}:{node.lineno} writes {root.id} (owned by {models[root.id]})")
    for line, name in _named_collections(tree):
        owner = collections.get(name)
        if owner is not None and owner != service:
            found.append(f"{where}:{line} names collection {name!r} (owned by {owner})")
    return found


def test_every_collection_has_one_owner():
    collections, models = ownership()
    assert {"templates", "mentions", "customers", "suppressed_contacts", "campaigns"} <= set(collections)
    assert collections["templates"] == "mailer" and collections["mentions"] == "listener"
    assert collections["customers"] == "segments" and collections["suppressed_contacts"] == "mailer"
    assert collections["interactions"] == "segments"
    # a collection declared by two services' models would be listed once, under the last: catch it
    declared = {}
    for service in SERVICES:
        for path in (ROOT / "services" / service).rglob("*.py"):
            for collection in _meta_collections(path).values():
                assert declared.setdefault(collection, service) == service, collection
    assert not INFRASTRUCTURE & set(collections), "infrastructure collections belong to no service"


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_neither_names_nor_writes_another_services_data(service):
    collections, models = ownership()
    found = []
    for path in sorted((ROOT / "services" / service).rglob("*.py")):
        found += violations(service, str(path.relative_to(ROOT)), path.read_text(), collections, models)
    assert not found, "\n".join(found)


def test_the_scan_catches_each_kind_of_reach():
    """The scan itself: each way of reaching into another service's data is reported."""
    collections, models = ownership()
    source = (
        "from services.mailer import models\n"
        "from shared import store\n"
        "from shared.models import Customer, SuppressedContact\n"
        "store.db()['templates'].find_one({})\n"
        "Customer._get_collection().update_one({}, {})\n"
        "SuppressedContact(hash='x').save()\n"
        "Customer.objects.first()\n"
    )
    found = violations("campaigns", "services/campaigns/probe.py", source, collections, models)
    assert len(found) == 5, found
    assert any("services.mailer" in f for f in found)
    assert any("'templates'" in f and "mailer" in f for f in found)
    assert any("writes Customer" in f for f in found)
    assert any("imports SuppressedContact" in f for f in found)
    assert any("writes SuppressedContact" in f for f in found)


def test_infrastructure_rows_are_per_service():
    from shared.messaging.consumer import ProcessedMessage
    from shared.messaging.contracts import envelope_for
    from shared.messaging.publisher import OutboxMessage
    from shared.messaging.topology import PRODUCERS, Topology

    assert OutboxMessage._meta["collection"] == "outbox"
    unique = [i for i in ProcessedMessage._meta["indexes"] if isinstance(i, dict) and i.get("unique")]
    assert [i["fields"] for i in unique] == [["consumer", "message_id"]]
    assert ProcessedMessage._meta["collection"] == "processed_messages"
    from shared.messaging.contracts import CustomerCreated

    assert envelope_for(CustomerCreated(customer_id="c", source="api"), "segments").producer == "segments"
    for event_type, producer in PRODUCERS.items():
        assert Topology().exchange_for(event_type).name == f"{producer}.events"
