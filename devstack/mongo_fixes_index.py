"""The stand-in's index fixes: unique indexes count a missing field as null, and
equality uses declared indexes (applied by :mod:`devstack.mongo_standin`, which checks
at start-up that neosqlite is the version these overrides were written against)."""

from __future__ import annotations

import re

# --- unique indexes: a missing field counts as null, as in MongoDB ---

_COMPANIONS = ("vnull_", "vtype_")  # indexes the stand-in adds next to declared ones; never listed


def fix_unique_missing_fields() -> None:
    """SQLite lets any number of rows hold NULL in a unique index, so a non-sparse
    unique index accepted many documents without the field (or, compound, without
    one of its fields), where MongoDB accepts one. Each such index gets a companion
    unique index over ``ifnull(<field>, X'00')`` (a blob: never equal to a stored
    value) that enforces it; it is not listed and goes with its index."""
    from neosqlite.collection.index_manager import IndexManager
    from neosqlite.collection.json_path_utils import parse_json_path
    from neosqlite.sql_utils import quote_identifier, quote_table_name

    original_create = IndexManager.create_index
    original_drop = IndexManager.drop_index

    def create_index(
        self,
        key,
        reindex=True,
        sparse=False,
        unique=False,
        fts=False,
        tokenizer=None,
        datetime_field=False,
        expireAfterSeconds=None,
        name=None,
        **kwargs,
    ):
        created = original_create(
            self,
            key,
            reindex,
            sparse,
            unique,
            fts,
            tokenizer,
            datetime_field,
            expireAfterSeconds,
            name,
            **kwargs,
        )
        if fts or not isinstance(created, str):
            return created
        if isinstance(key, str):
            fields = [key]
        else:
            fields = [item[0] if isinstance(item, tuple) else item for item in key]
        if all(isinstance(field, str) for field in fields):
            _create_type_indexes(self, created, fields)
        if not unique or sparse or kwargs.get("partialFilterExpression") or "_id" in fields:
            return created
        prefix = self.jsonb.json_function_prefix
        columns = ", ".join(
            f"ifnull({prefix}_extract(data, '{parse_json_path(field)}'), X'00')" for field in fields
        )
        self.collection.db.execute(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {quote_identifier('vnull_' + created)} "
            f"ON {quote_table_name(self.collection.name)}({columns})"
        )
        return created

    def drop_index(self, index):
        before = _index_names(self)
        result = original_drop(self, index)
        for gone in before - _index_names(self):
            self.collection.db.execute(f"DROP INDEX IF EXISTS {quote_identifier('vnull_' + gone)}")
            for companion in _index_names(self):
                if companion.startswith(f"vtype_{gone}_"):
                    self.collection.db.execute(f"DROP INDEX IF EXISTS {quote_identifier(companion)}")
        return result

    def _index_names(manager):
        rows = manager.collection.db.execute(
            "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name=?", (manager.collection.name,)
        )
        return {row[0] for row in rows}

    original_information = IndexManager.index_information
    original_list = IndexManager.list_indexes

    def index_information(self):
        return {
            name: info
            for name, info in original_information(self).items()
            if not name.startswith(_COMPANIONS)
        }

    def list_indexes(self, as_keys=False):
        names = original_list(self, as_keys=False)
        if as_keys:
            return [
                keys
                for name, keys in zip(names, original_list(self, as_keys=True))
                if not name.startswith(_COMPANIONS)
            ]
        return [name for name in names if not name.startswith(_COMPANIONS)]

    IndexManager.create_index = create_index
    IndexManager.drop_index = drop_index
    IndexManager.index_information = index_information
    IndexManager.list_indexes = list_indexes


def partial_index_as_sparse(spec):
    """nx-27017 drops ``partialFilterExpression``; the form services use it for,
    "only documents that have the field" (``$exists: true`` or ``$type``), is what
    ``sparse`` does, so the index is declared sparse instead (documented defect:
    other partial filters are enforced on every document)."""
    partial = spec.get("partialFilterExpression") if isinstance(spec, dict) else None
    if not isinstance(partial, dict) or not partial:
        return spec
    return {**spec, "sparse": True}


# --- equality on indexed fields: let SQLite use the index ---

# The array arm neosqlite 1.17.2 writes for equality (in SQLClauseBuilder.build_where_clause
# and SqlQueryBuilderMixin._build_containment_clause), and the same test in a shape an index
# can answer next to the scalar arm.
_ARRAY_ARM = re.compile(
    r"EXISTS \(SELECT 1 FROM (\w+)\(CASE WHEN json_type\((\w+), ('[^']*')\) = 'array' ?THEN "
    r"(json_extract\(\w+, '[^']*'\)) END\) WHERE (value = \?|json_extract\(value, '[^']*'\) = \?)\)"
)
_INDEXED_ARM = r"(json_type(\2, \3) = 'array' AND EXISTS (SELECT 1 FROM \1(\4) WHERE \5))"


def _indexable_arms(method):
    """``method`` (returning ``(sql, params)``) with its array arms in the indexable shape."""

    def rewritten(self, *args, **kwargs):
        sql, params = method(self, *args, **kwargs)
        return (_ARRAY_ARM.sub(_INDEXED_ARM, sql) if sql else sql), params

    return rewritten


def fix_indexed_equality() -> None:
    """Equality compiles to ``f = ? OR EXISTS (json_each(CASE WHEN json_type(f) = 'array'
    ...))`` (arrays contain their elements), which SQLite can only answer by scanning
    every row, so declared indexes went unused for equality (a claim on an indexed
    ``state`` scanned the collection). The array arm is rewritten to the equivalent
    ``(json_type(f) = 'array' AND EXISTS (...))`` and each index gets companion
    indexes on ``json_type`` of its paths, so SQLite answers with a MULTI-INDEX OR.
    ``$in`` gets the same shape. Written against neosqlite 1.17.2 (checked at start-up)."""
    from neosqlite.collection.query_helper._sql_query_builder import SqlQueryBuilderMixin
    from neosqlite.collection.sql_translator_unified import SQLClauseBuilder

    SQLClauseBuilder.build_where_clause = _indexable_arms(SQLClauseBuilder.build_where_clause)
    builder = SqlQueryBuilderMixin
    builder._build_containment_clause = _indexable_arms(builder._build_containment_clause)
    # $in was only "some element of json_each(field) is in the list", which no index
    # answers: 1,000 emails looked up by $in scanned the collection (0.2 s at 20,000).
    # The scalar arm comes first now, on the field's index; arrays keep their arm, and
    # so do objects: an ObjectId is stored as {"__neosqlite_objectid__": true, "id": hex}
    # and nx-27017 sends $in of ObjectIds as their hex.
    original_operator_clause = builder._build_operator_clause

    def build_operator_clause(self, json_path, operators, *args, **kwargs):
        values = operators.get("$in") if isinstance(operators, dict) else None
        if json_path == "value" or not values or not isinstance(values, (list, tuple)) or None in values:
            return original_operator_clause(self, json_path, operators, *args, **kwargs)
        rest = {op: value for op, value in operators.items() if op != "$in"}
        sql, params = original_operator_clause(self, json_path, rest, *args, **kwargs) if rest else ("", [])
        if sql is None:
            return None, []
        marks, each = ", ".join("?" for _ in values), self.jsonb.json_each_function
        clause = (
            f"({self.jsonb.json_function_prefix}_extract(data, {json_path}) IN ({marks}) OR "
            f"(json_type(data, {json_path}) IN ('array', 'object') AND EXISTS (SELECT 1 FROM "
            f"{each}(data, {json_path}) AS json_each WHERE json_each.value IN ({marks}))))"
        )
        return (f"{sql} AND {clause}" if sql else clause), [*params, *values, *values]

    builder._build_operator_clause = build_operator_clause
    # neosqlite skipped array containment on indexed fields to keep the index usable:
    # {"tags": "vip"} found nothing when "tags" was indexed. The arm no longer costs the index.
    builder._field_has_index = lambda self, field: False


def _create_type_indexes(manager, created: str, fields: list[str]) -> None:
    """Companion ``json_type`` indexes for the array arms of equality on ``fields``."""
    from neosqlite.collection.json_path_utils import parse_json_path
    from neosqlite.sql_utils import quote_identifier, quote_table_name

    prefixes = {
        ".".join(field.split(".")[:k])
        for field in fields
        if field != "_id"
        for k in range(1, len(field.split(".")) + 1)
    }
    for number, path in enumerate(sorted(prefixes)):
        manager.collection.db.execute(
            f"CREATE INDEX IF NOT EXISTS {quote_identifier(f'vtype_{created}_{number}')} "
            f"ON {quote_table_name(manager.collection.name)}(json_type(data, '{parse_json_path(path)}'))"
        )


# --- TTL: purge like MongoDB's TTL monitor, not on every read ---

TTL_PURGE_EVERY = 30.0  # seconds; MongoDB's TTL monitor runs every 60


def throttle_ttl_purges() -> None:
    """neosqlite purged expired documents before *every* find, count and update of a
    collection with a TTL index: two range deletes that scan (datetime ranges go through
    ``strftime``). The processed-message records every worker checks per message have a
    TTL index, so each dedupe read scanned the whole record collection and consuming
    slowed down as it grew. Purges now run at most every ``TTL_PURGE_EVERY`` seconds per
    collection, when it is next used; MongoDB also leaves expired documents for up to a
    minute."""
    import threading
    import time

    from neosqlite.collection import Collection

    original = Collection._auto_purge_ttl
    last: dict = {}
    lock = threading.Lock()

    def auto_purge_ttl(self) -> None:
        key = (id(self.db), self.name)
        now = time.monotonic()
        with lock:
            if now - last.get(key, -TTL_PURGE_EVERY) < TTL_PURGE_EVERY:
                return
            last[key] = now
        original(self)

    Collection._auto_purge_ttl = auto_purge_ttl


# --- inserts: no deep copy, no SQL round trip to validate what json.dumps wrote ---


class _CopiedShallow(dict):
    """A document to insert whose deep copy is shallow: neosqlite 1.17.2's
    ``_internal_insert`` deep-copies it, then ``_convert_bytes_to_binary`` rebuilds
    every container anyway."""

    def __deepcopy__(self, memo):
        return dict(self)


def fix_insert_overhead() -> None:
    """Each inserted document was deep-copied, then copied again by the bytes
    conversion (which rebuilds every dict and list), and its JSON was checked by a
    ``SELECT json_valid(?)`` round trip: about half of an insert's time. The first copy
    is shallow now; the check runs only when ``json.dumps`` may have written what
    JSON does not allow (NaN, Infinity), so such documents are still refused.
    Written against neosqlite 1.17.2 (checked at start-up)."""
    from neosqlite.collection.query_helper import QueryHelper
    from neosqlite.collection.query_helper.crud_operations import CRUDOperationsMixin

    original_insert, original_validate = (
        CRUDOperationsMixin._internal_insert,
        QueryHelper._validate_json_document,
    )

    def internal_insert(self, document):
        if type(document) is not dict:
            return original_insert(self, document)
        inserted = original_insert(self, _CopiedShallow(document))
        if "_id" not in document:
            document["_id"] = inserted
        return inserted

    def validate_json_document(self, json_str):
        return not ("NaN" in json_str or "Infinity" in json_str) or original_validate(self, json_str)

    CRUDOperationsMixin._internal_insert = internal_insert
    QueryHelper._validate_json_document = validate_json_document
