"""The stand-in's filter and write fixes: exact matching, upserts, dotted updates,
findAndModify errors (see the notes in
:mod:`devstack.mongo_standin`, which applies them at start-up). Each patch of
library code raises at start-up when the code it replaces has changed."""

from __future__ import annotations

import copy
import inspect

from devstack.mongo_standin import _STATEMENT_LISTS

# --- exact matching: filters neosqlite gets wrong are narrowed to the _ids that match ---

# command name -> key of the collection name, keys of the body that hold a filter
_RESOLVED_FILTERS = {"find": ("filter",), "count": ("query",), "distinct": ("query",),
                     "findandmodify": ("query",)}


def _collection_exists(db, name: str) -> bool:
    row = db.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
    return row is not None


def _resolve_filter(db, coll_name: str, query, upsert: bool = False):
    """``query`` itself when neosqlite evaluates it right, else ``{"_id": {"$in": [...]}}``
    listing the documents that really match (computed by :mod:`devstack.mongo_match`).

    An upsert that matches nothing keeps its filter: the new document is built from it,
    and a filter neosqlite matches nothing with is what an upsert needs then."""
    from devstack import mongo_match

    if not isinstance(query, dict) or mongo_match.is_fast_safe(query) or not mongo_match.supported(query):
        return query
    if not _collection_exists(db, coll_name):
        return query
    from nx_27017.utils import convert_bson_to_neo_objectids

    # neosqlite's find() matches ObjectIds only in its own type (nx-27017 converts
    # them later, after this runs)
    ids = _matching_ids(db[coll_name], convert_bson_to_neo_objectids(query))
    if upsert and not ids:
        return query
    return {"_id": {"$in": ids}}


def _matching_ids(collection, query: dict) -> list:
    """The ``_id`` of every document matching ``query``: rows pre-selected by the
    filter's safe part in SQL, decoded with plain ``json.loads`` (neosqlite's loader
    is 4x slower) and tested by :func:`devstack.mongo_match.matches`."""
    import json

    from devstack import mongo_match

    safe = _safe_conjuncts(query)
    # neosqlite's where-clause builder needs its find() to prepare ObjectIds (and _id):
    # such pre-filters (typically one _id) go through find(), the rest through raw SQL.
    # Datetimes too: the simple where-clause builder compares them as plain strings
    # against the stored {"$date": ...} objects and selects nothing.
    built = None if _holds_object_id(safe) or _holds_datetime(safe) else (
        collection.query_engine.helpers._build_simple_where_clause(safe) if safe else ("", [], []))
    if built is None or "data" not in _table_columns(collection):
        return [doc["_id"] for doc in collection.find(safe) if mongo_match.matches(doc, query)]
    from neosqlite.objectid import ObjectId

    where, params, _tables = built
    ids = []
    for rowid, stored, data in collection.db.execute(f'SELECT id, _id, data FROM "{collection.name}" {where}',
                                                     params):
        doc = json.loads(data)
        if not mongo_match.matches(doc if "_id" in doc else {**doc, "_id": stored}, query):
            continue
        _id = doc.get("_id", _MISSING_ID)
        if isinstance(_id, dict) and _id.get("__neosqlite_objectid__") is True:
            _id = ObjectId(_id["id"])
        elif _id is _MISSING_ID:
            _id = collection._resolve_stored_id(stored, rowid)
        ids.append(_id)
    return ids


_MISSING_ID = object()


def _holds_object_id(value) -> bool:
    from devstack import mongo_match

    if isinstance(value, dict):
        return "_id" in value or any(_holds_object_id(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_object_id(item) for item in value)
    return mongo_match._is_oid(value)


def _holds_datetime(value) -> bool:
    import datetime

    if isinstance(value, dict):
        return any(_holds_datetime(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_datetime(item) for item in value)
    return isinstance(value, (datetime.datetime, datetime.date))


def _table_columns(collection) -> set:
    return {row[1] for row in collection.db.execute(f'PRAGMA table_info("{collection.name}")')}


def _safe_conjuncts(query: dict) -> dict:
    """The part of ``query`` neosqlite evaluates right (and may use indexes for): a
    superset of the matches, so only those documents need the exact test."""
    from devstack import mongo_match

    safe = {key: cond for key, cond in query.items()
            if not key.startswith("$") and mongo_match.is_fast_safe({key: cond})}
    parts = [part for part in query.get("$and", []) if mongo_match.is_fast_safe(part)]
    if parts:
        safe = {"$and": [safe, *parts]} if safe else {"$and": parts}
    return safe


def _resolve_statements(db, coll_name, statements):
    if not isinstance(statements, list):
        return statements
    return [{**st, "q": _resolve_filter(db, coll_name, st.get("q"), bool(st.get("upsert")))}
            if isinstance(st, dict) else st for st in statements]


def resolve_sections(handler, sections):
    """Narrow the risky filters of one command; runs under the database's lock."""
    body = next((data for kind, data in sections if kind == "body" and isinstance(data, dict) and data), None)
    if body is None:
        return sections
    command = next(iter(body))
    name = command.lower()
    coll_name = body.get(command)
    if name not in (*_RESOLVED_FILTERS, "update", "delete", "aggregate") or not isinstance(coll_name, str):
        return sections
    db = handler.get_database(body.get("$db", "test"))
    fixed = []
    for kind, data in sections:
        if kind == "body" and data is body:
            data = dict(body)
            for key in _RESOLVED_FILTERS.get(name, ()):
                if key in data:
                    data[key] = _resolve_filter(db, coll_name, data[key], bool(data.get("upsert")))
            for key in _STATEMENT_LISTS:
                if key in data:
                    data[key] = _resolve_statements(db, coll_name, data[key])
            pipeline = data.get("pipeline")
            if name == "aggregate" and isinstance(pipeline, list) and pipeline and isinstance(pipeline[0], dict) \
                    and "$match" in pipeline[0]:
                data["pipeline"] = [{"$match": _resolve_filter(db, coll_name, pipeline[0]["$match"])},
                                    *pipeline[1:]]
        elif kind == "payload" and isinstance(data, dict):
            data = {key: (_resolve_statements(db, coll_name, docs) if key in _STATEMENT_LISTS else docs)
                    for key, docs in data.items()}
        fixed.append((kind, data))
    return fixed


def install_exact_matching() -> None:
    from nx_27017.handler import NeoSQLiteHandler, _msg_db_name

    original = NeoSQLiteHandler.handle_command

    def handle_command(self, msg):
        with self._lock_for(_msg_db_name(msg)):
            msg = {**msg, "sections": resolve_sections(self, msg["sections"])}
            if _FAM_ERRORS is not None:
                _FAM_ERRORS.error = None
            request_id, response = original(self, msg)
            return request_id, _find_and_modify_error(response) or response

    NeoSQLiteHandler.handle_command = handle_command


# --- upserts: the inserted document keeps the filter's ObjectIds and $setOnInsert ---

def fix_upserts() -> None:
    """neosqlite builds an upserted document from the filter *after* normalising it,
    which turns ObjectIds into strings (``{"customer_id": oid}`` upserts stored the
    id as a string, and the next upsert inserted a duplicate); and
    ``find_one_and_update(upsert=True)`` inserts then runs a plain update, dropping
    ``$setOnInsert``. The filter as sent is kept per thread for the builder, and an
    upserting find_one_and_update that matches nothing goes through ``update_one``."""
    import copy
    import threading

    from neosqlite.collection import query_engine
    from neosqlite.collection.query_engine import crud_operations, find_operations

    stash = threading.local()
    original_build = crud_operations.build_upsert_base_document
    if find_operations.build_upsert_base_document is not original_build:
        raise RuntimeError("neosqlite changed: the upsert fix no longer applies")

    def build_upsert_base_document(filter_doc):
        return original_build(getattr(stash, "filter", None) or filter_doc)

    crud_operations.build_upsert_base_document = build_upsert_base_document
    find_operations.build_upsert_base_document = build_upsert_base_document
    engine = query_engine.QueryEngine

    def keeping_filter(method):
        def wrapper(self, filter, *args, **kwargs):
            if not kwargs.get("upsert"):
                return method(self, filter, *args, **kwargs)
            outer = getattr(stash, "filter", None)
            stash.filter = copy.deepcopy(filter)
            try:
                return method(self, filter, *args, **kwargs)
            finally:
                stash.filter = outer
        return wrapper

    for name in ("update_one", "update_many", "replace_one", "find_one_and_replace"):
        setattr(engine, name, keeping_filter(getattr(engine, name)))
    original_faup = engine.find_one_and_update

    def find_one_and_update(self, filter, update, projection=None, sort=None, upsert=False,
                            return_document=False, array_filters=None, session=None, **kwargs):
        if upsert and self.find_one(copy.deepcopy(filter), session=session) is None:
            result = self.update_one(filter, update, upsert=True, session=session)
            if return_document and result.upserted_id is not None:
                return self.find_one({"_id": result.upserted_id}, projection, session=session)
            return None
        return original_faup(self, filter, update, projection, sort, upsert, return_document,
                             array_filters, session, **kwargs)

    engine.find_one_and_update = find_one_and_update


_NO_CREATE = ("$unset", "$pull", "$pullAll", "$pop")


def fix_python_update_paths() -> None:
    """neosqlite's Python update path (taken for booleans, datetimes, upserts) handles
    dotted paths only in ``$set``: ``$inc``/``$unset``/``$push``/``$min``/... on
    ``"stats.total"`` wrote a top-level key literally named ``stats.total`` or did
    nothing, and ``$setOnInsert`` did the same. Here each dotted field is applied to
    its parent sub-document by the same code, and the document is written once."""
    from neosqlite.collection.json_helpers import neosqlite_json_dumps
    from neosqlite.collection.query_helper.update_operations import UpdateOperationsMixin
    from neosqlite.sql_utils import quote_table_name

    original = UpdateOperationsMixin._perform_python_update

    def perform(self, doc_id, update_spec, original_doc, array_filters=None, query_filter=None):
        def dotted_keys(op, spec):
            if op == "$set" or not isinstance(spec, dict):
                return {}
            return {k: v for k, v in spec.items() if "." in k and "$" not in k}

        dotted = {op: found for op, spec in update_spec.items() if (found := dotted_keys(op, spec))}
        if not dotted:
            return original(self, doc_id, update_spec, original_doc, array_filters, query_filter)
        upsert = doc_id == 0
        rest = {}
        for op, spec in update_spec.items():
            if op == "$setOnInsert" and not upsert:
                continue
            kept = {k: v for k, v in spec.items() if k not in dotted.get(op, {})} if isinstance(spec, dict) else spec
            if kept:
                rest[op] = kept
        doc = original(self, 0, rest, original_doc, array_filters, query_filter)[0] if rest \
            else copy.deepcopy(original_doc)
        for op, fields in dotted.items():
            if op == "$setOnInsert":
                if not upsert:
                    continue
                op = "$set"
            for path, value in fields.items():
                *parents, leaf = path.split(".")
                parent = doc
                for part in parents:
                    child = parent.get(part)
                    if not isinstance(child, dict):
                        if op in _NO_CREATE and child is None:
                            parent = None
                            break
                        if child is not None:
                            raise ValueError(f"Cannot create field '{leaf}' in element {{{part}: {child!r}}}")
                        child = parent[part] = {}
                    parent = child
                if parent is None:
                    continue
                updated = original(self, 0, {op: {leaf: value}}, parent, array_filters, None)[0]
                parent.clear()
                parent.update(updated)
        if not upsert:
            self.collection.db.execute(
                f"UPDATE {quote_table_name(self.collection.name)} SET data = ? WHERE id = ?",
                (neosqlite_json_dumps(doc), self._get_integer_id_for_oid(doc_id)))
        return doc, doc != original_doc

    if "SET data = ? WHERE id = ?" not in inspect.getsource(original):
        raise RuntimeError("neosqlite changed: the dotted update fix no longer applies")
    UpdateOperationsMixin._perform_python_update = perform


# --- findAndModify errors: nx-27017 answered any failure as "no document matched" ---

_FAM_ERRORS = None


def fix_find_and_modify_errors() -> None:
    """nx-27017 catches every exception of findAndModify and answers ``value: null``,
    so a unique-index violation (or any failure) of ``find_one_and_update`` looked
    like "nothing matched" and the write was silently not done. The exception is
    kept per thread and the handler's answer becomes the error MongoDB would send
    (code 11000 for a duplicate key, which pymongo raises as DuplicateKeyError)."""
    import threading

    from neosqlite.collection import Collection

    global _FAM_ERRORS
    _FAM_ERRORS = threading.local()

    def recording(method):
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:
                _FAM_ERRORS.error = exc
                raise
        return wrapper

    for name in ("find_one_and_update", "find_one_and_replace", "find_one_and_delete"):
        setattr(Collection, name, recording(getattr(Collection, name)))


def _find_and_modify_error(response):
    """The error answer for a findAndModify whose exception nx-27017 swallowed, else None."""
    from nx_27017.handler import _bulk_write_error

    error = getattr(_FAM_ERRORS, "error", None) if _FAM_ERRORS is not None else None
    if error is None or not isinstance(response, dict) or response.get("value") is not None:
        return None
    detail = _bulk_write_error(error, 0)
    return {"ok": 0, "errmsg": detail["errmsg"], "code": detail["code"],
            "codeName": "DuplicateKey" if detail["code"] == 11000 else "InternalError"}
