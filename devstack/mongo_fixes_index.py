"""The stand-in's index fixes: unique indexes count a missing field as null, and
equality uses declared indexes (applied by :mod:`devstack.mongo_standin`). Each
patch of library code raises at start-up when the code it replaces has changed."""

from __future__ import annotations

import inspect

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

_ARM_OLD_UNIFIED = '''"EXISTS (SELECT 1 FROM "
    + self._json_each_function
    + "(CASE WHEN "
    + "json_type("
    + self.data_column
    + ", "
    + arr_path
    + ") = 'array' THEN "
    + arr_expr
    + " END) WHERE "
    + elem_pred
    + ")"'''
_ARM_NEW_UNIFIED = '''"(json_type(" + self.data_column + ", " + arr_path + ") = 'array' AND "
    + "EXISTS (SELECT 1 FROM "
    + self._json_each_function
    + "(" + arr_expr + ") WHERE "
    + elem_pred
    + "))"'''
_ARM_OLD_BUILDER = '''"EXISTS (SELECT 1 FROM "
    + json_each_func
    + "("
    + "CASE WHEN json_type(data, "
    + arr_path
    + ") = 'array' "
    + "THEN "
    + arr_expr
    + " END"
    + ") WHERE "
    + elem_pred
    + ")"'''
_ARM_NEW_BUILDER = '''"(json_type(data, " + arr_path + ") = 'array' AND "
    + "EXISTS (SELECT 1 FROM "
    + json_each_func
    + "(" + arr_expr + ") WHERE "
    + elem_pred
    + "))"'''


_IN_OLD = """clauses.append(
f"EXISTS (SELECT 1 FROM {json_each_func}(data, {json_path}) AS json_each WHERE json_each.value IN ({placeholders}))"
)
params.extend(non_null)"""
_IN_NEW = """clauses.append(
    f"({self.jsonb.json_function_prefix}_extract(data, {json_path}) IN ({placeholders}) OR "
    f"(json_type(data, {json_path}) IN ('array', 'object') AND EXISTS (SELECT 1 FROM {json_each_func}(data, {json_path}) "
    f"AS json_each WHERE json_each.value IN ({placeholders}))))"
)
params.extend(non_null)
params.extend(non_null)"""


def _replace_lines(source: str, old: str, new: str) -> str:
    """Replace ``old`` (lines compared without their indentation) by ``new``, indented as found."""
    lines = source.splitlines(keepends=True)
    old_lines = [line.strip() for line in old.splitlines()]
    for start in range(len(lines) - len(old_lines) + 1):
        if [line.strip() for line in lines[start : start + len(old_lines)]] == old_lines:
            indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
            replacement = "".join(indent + line.rstrip() + "\n" for line in new.splitlines())
            return "".join(lines[:start]) + replacement + "".join(lines[start + len(old_lines) :])
    raise RuntimeError(f"neosqlite changed: a stand-in fix no longer applies (no line {old_lines[0]!r})")


def _recompiled(function, module, replacements):
    """``function`` compiled again in ``module`` with (old, new) line replacements; raises at
    start-up when the code no longer holds ``old`` (neosqlite changed)."""
    import textwrap

    source = textwrap.dedent(inspect.getsource(function))
    for old, new in replacements:
        source = _replace_lines(source, old, new)
    namespace: dict = {}
    exec(compile(source, module.__file__, "exec"), module.__dict__, namespace)  # noqa: S102
    return namespace[function.__name__]


def _patch_function(module, name: str, *replacements: tuple[str, str]) -> None:
    """Replace function ``name`` of ``module`` by its patched copy."""
    setattr(module, name, _recompiled(getattr(module, name), module, replacements))


def _patch_method(cls, name: str, *replacements: tuple[str, str]) -> None:
    """Replace method ``name`` of ``cls`` by its patched copy."""
    setattr(cls, name, _recompiled(getattr(cls, name), inspect.getmodule(cls), replacements))


def fix_indexed_equality() -> None:
    """Equality compiles to ``f = ? OR EXISTS (json_each(CASE WHEN json_type(f) = 'array'
    ...))`` (arrays contain their elements), which SQLite can only answer by scanning
    every row, so declared indexes went unused for equality (a claim on an indexed
    ``state`` scanned the collection). The array arm is rewritten to the equivalent
    ``(json_type(f) = 'array' AND EXISTS (...))`` and each index gets companion
    indexes on ``json_type`` of its paths, so SQLite answers with a MULTI-INDEX OR.
    ``$in`` gets the same shape."""
    from neosqlite.collection.query_helper._sql_query_builder import SqlQueryBuilderMixin
    from neosqlite.collection.sql_translator_unified import SQLClauseBuilder

    _patch_method(SQLClauseBuilder, "build_where_clause", (_ARM_OLD_UNIFIED, _ARM_NEW_UNIFIED))
    _patch_method(SqlQueryBuilderMixin, "_build_containment_clause", (_ARM_OLD_BUILDER, _ARM_NEW_BUILDER))
    # $in was only "some element of json_each(field) is in the list", which no index
    # answers: 1,000 emails looked up by $in scanned the collection (0.2 s at 20,000).
    # The scalar arm comes first now, on the field's index; arrays keep their arm, and
    # so do objects: an ObjectId is stored as {"__neosqlite_objectid__": true, "id": hex}
    # and nx-27017 sends $in of ObjectIds as their hex.
    _patch_method(SqlQueryBuilderMixin, "_build_operator_clause", (_IN_OLD, _IN_NEW))
    # neosqlite skipped array containment on indexed fields to keep the index usable:
    # {"tags": "vip"} found nothing when "tags" was indexed. The arm no longer costs the index.
    if not hasattr(SqlQueryBuilderMixin, "_field_has_index"):
        raise RuntimeError("neosqlite changed: the indexed containment fix no longer applies")
    SqlQueryBuilderMixin._field_has_index = lambda self, field: False


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

    if not hasattr(Collection, "_auto_purge_ttl"):
        raise RuntimeError("neosqlite changed: the TTL purge throttle no longer applies")
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

_COPY_OLD = "doc_to_insert = deepcopy(document)"
_COPY_NEW = "doc_to_insert = dict(document)  # _convert_bytes_to_binary below rebuilds every container"
_VALID_OLD = "if not self._validate_json_document(json_str):"
_VALID_NEW = (
    'if ("NaN" in json_str or "Infinity" in json_str) and not self._validate_json_document(json_str):'
)


def fix_insert_overhead() -> None:
    """Each inserted document was deep-copied, then copied again by the bytes
    conversion (which rebuilds every dict and list), and its JSON was checked by a
    ``SELECT json_valid(?)`` round trip: about half of an insert's time. The first copy
    is shallow now; the check runs only when ``json.dumps`` may have written what
    JSON does not allow (NaN, Infinity), so such documents are still refused."""
    from neosqlite.collection.query_helper.crud_operations import CRUDOperationsMixin

    _patch_method(CRUDOperationsMixin, "_internal_insert", (_COPY_OLD, _COPY_NEW), (_VALID_OLD, _VALID_NEW))
