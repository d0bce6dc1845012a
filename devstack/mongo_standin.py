"""A MongoDB wire-protocol server for local runs and tests (nx-27017 on SQLite).

Production uses real MongoDB. Here no ``mongod`` can be installed, so the
services talk over TCP to nx-27017, with these fixes applied before it
serves (filter rewrites touch only the filters of a command, never the
documents or updates it carries):

* BSON regex values in filters (what mongoengine sends for
  ``startswith``/``icontains``) are rewritten to ``{"$regex": ..., "$options": ...}``;
* a filter that mixes fields with ``$or``/``$nor`` (``{"_id": x, "$or": [...]}``)
  is rewritten to ``{"$and": [{fields}, {"$or": [...]}]}``: neosqlite's
  update path otherwise ignores the fields and updates a document that does
  not match;
* equality on a field holding an ObjectId (other than ``_id``) matches
  nothing, while ``$in`` works: filters are rewritten to ``$in``/``$nin``;
* aggregation pipelines get their ObjectIds converted to neosqlite's own
  type, as nx-27017 already does for find and update (without it a
  ``$match`` on ``_id``, and so ``count_documents({"_id": ...})``, matches
  nothing);
* datetime comparisons in SQL use SQLite's ``datetime()``, which drops the
  fraction of a second (10:00:00.1 < 10:00:00.5 is false); they are
  rewritten to compare ``strftime('%Y-%m-%d %H:%M:%f', ...)``, milliseconds,
  which is BSON's own precision;
* updates whose values hold booleans or datetimes take neosqlite's Python
  update path, because its SQL fast path stores ``True`` as ``1`` and
  datetimes as strings; so do upserts (ObjectIds from the filter were stored
  as strings) and ``$push``/``$addToSet`` of documents (stored as JSON text);
* that Python update path applies ``$inc``/``$unset``/``$push``/``$min``/...
  and ``$setOnInsert`` on dotted paths (``stats.total``, DictField keys) to
  the sub-document, instead of writing a key literally named ``stats.total``;
* exact matching (:mod:`devstack.mongo_match`): every filter outside the
  shapes neosqlite is known to evaluate right (equality, ``$in`` and ranges on
  plain scalars, ``$and``/``$or`` of those) is evaluated in Python with
  MongoDB's semantics under the database lock and narrowed to the matching
  ``_id`` values: null vs missing, ``$ne``/``$nin``/``$nor``/``$not`` (SQL
  three-valued logic dropped documents without the field; ``$not`` was not
  implemented), ``$exists``, ``$size``, ``$all``, regexes on arrays and in
  ``$in``, whole-document and whole-array equality, ObjectId ranges, non-ASCII
  keys. The filter's safe part pre-selects rows with indexes;
* ``find_one_and_update(upsert=True)`` keeps ``$setOnInsert``;
  findAndModify errors (duplicate key, ...) are answered as errors, not as
  "no document matched";
* aggregations run in neosqlite's Python tier (its SQL tiers returned
  ObjectIds/dates as JSON strings, applied ``$limit`` after a later ``$sort``,
  miscounted arrays); ``count_documents`` is one SQL ``COUNT``; compound
  ``$group`` keys group; ``$avg``/``$sum`` ignore non-numbers; ``$count``
  over nothing returns nothing;
* unique indexes treat a missing field as null (one document without it, as
  in MongoDB; ``sparse`` still allows many); ``partialFilterExpression``,
  dropped by nx-27017, is declared ``sparse``;
* equality uses declared indexes (the array-containment arm is rewritten so
  SQLite can use a MULTI-INDEX OR, with companion ``json_type`` indexes), and
  indexed array fields keep containment (``{"tags": "vip"}`` found nothing once
  ``tags`` was indexed);
* projections on dotted paths nest (``{"emb.x": 1}`` -> ``{"emb": {"x": ..}}``).

Known defects left (write queries in the equivalent shape given):

* exact matching covers filters of find/count/distinct/update/delete/
  findAndModify and a pipeline's *first* ``$match``; a later ``$match`` (after
  ``$unwind``/``$addFields``, inside ``$facet``/``$lookup``) is neosqlite's own
  matcher: keep null/``$ne``/``$exists``/``$not`` in the first ``$match``;
* ranges on fields holding arrays (``{"arr.v": {"$gt": 4}}``,
  ``{"tags": {"$gt": "w"}}``) miss documents: use
  ``{"arr": {"$elemMatch": {"v": {"$gt": 4}}}}``;
* ``Decimal128`` cannot be stored (error "not JSON serializable"): mongoengine
  ``DecimalField`` stores floats (or strings with ``force_string``), use that;
* unique indexes over arrays (multikey) are not enforced, and a sparse unique
  index accepts several explicit ``null``: keep unique keys scalar and omit
  (do not null) optional ones;
* index names are not kept (``idx_<coll>_<field>``; ``drop_index`` by
  MongoDB's name does nothing); TTL purges when the collection is next used;
* sort orders booleans among numbers when a field mixes types;
* ``$lookup`` with ``pipeline``/``let``, ``$sortByCount``, projection
  ``$slice``/``$elemMatch`` fail loudly; ``$replaceRoot`` keeps ``_id``;
  use ``localField``/``foreignField``, ``$group`` + ``$sort``;
* ``$rename`` of a missing field creates it as null; ``$pop`` on an empty
  array and ``$push`` on a non-array fail (MongoDB: no-op / error), and
  ``$addToSet`` on a non-array does nothing;
* array-element updates (``arr.$.f``, ``arr.N.f``, ``$[id]``) are wrong:
  separate documents, or ``$set`` the whole array;
* exact-matching filters scan in Python (about 5 s per query over 100,000
  documents on this shared machine): keep hot paths to equality/``$in``/ranges,
  or add an equality on an indexed field next to the rest (it pre-selects);
* datetime ranges compare through ``strftime``, so they scan (about 0.7 s over
  100,000 documents); sorting on an indexed datetime uses the index.

``tests/store/`` pins each behaviour the code relies on, by theme, and passes
unchanged against real MongoDB (``VINCULO_TEST_MONGO_URI``).

Run: ``python -m devstack.mongo_standin --port 27017 --data-dir ./var/store``
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import datetime
import inspect
import logging
import re

from bson.regex import Regex

_FLAG_LETTERS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"),
                 (re.VERBOSE, "x"))


def _regex_to_operator(value):
    if isinstance(value, Regex):
        return {"$regex": value.pattern, "$options": value.flags if isinstance(value.flags, str)
                else "".join(letter for flag, letter in _FLAG_LETTERS if value.flags & flag)}
    if isinstance(value, re.Pattern):
        return {"$regex": value.pattern,
                "$options": "".join(letter for flag, letter in _FLAG_LETTERS if value.flags & flag)}
    return None


def _rewrite_regexes(value):
    """Return ``value`` with every regex replaced by its ``$regex`` form."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            converted = _regex_to_operator(item)
            if converted is not None:
                # {"f": {"$regex": <Regex>}} keeps its options next to it.
                if key == "$regex":
                    out["$regex"] = converted["$regex"]
                    if converted["$options"] and "$options" not in value:
                        out["$options"] = converted["$options"]
                else:
                    out[key] = converted
            else:
                out[key] = _rewrite_regexes(item)
        return out
    if isinstance(value, list):
        return [_regex_to_operator(item) or _rewrite_regexes(item) for item in value]
    return value


def _split_mixed_or(value):
    """Rewrite every ``{field: .., "$or": [..]}`` into an explicit ``$and``."""
    if isinstance(value, dict):
        value = {key: _split_mixed_or(item) for key, item in value.items()}
        logical = [key for key in ("$or", "$nor") if key in value]
        fields = {key: item for key, item in value.items() if key not in ("$or", "$nor", "$and")}
        if logical and fields and not any(key.startswith("$") for key in fields):
            parts = [fields] + [{key: value[key]} for key in logical] + list(value.get("$and", []))
            return {"$and": parts}
        return value
    if isinstance(value, list):
        return [_split_mixed_or(item) for item in value]
    return value


def _holds_bool_or_datetime(value) -> bool:
    if isinstance(value, (bool, datetime.datetime, datetime.date)):
        return True
    if isinstance(value, dict):
        return any(_holds_bool_or_datetime(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_bool_or_datetime(item) for item in value)
    return False


def _needs_python_update(update_spec, doc_id) -> bool:
    """Updates neosqlite's SQL fast path gets wrong: the document being built by an
    upsert (``doc_id`` 0: ObjectIds from the filter were stored as strings), and
    ``$push``/``$addToSet`` of embedded documents (stored as JSON strings)."""
    if not doc_id:
        return True
    if not isinstance(update_spec, dict):
        return False
    for op in ("$push", "$addToSet"):
        for value in (update_spec.get(op) or {}).values():
            if isinstance(value, (dict, list)):
                return True
    return False


_MS = "strftime('%Y-%m-%d %H:%M:%f', "


def _fix_datetime_precision() -> None:
    import inspect
    import textwrap

    from neosqlite.collection import sql_translator_unified as module

    source = textwrap.dedent(inspect.getsource(module.SQLOperatorTranslator.translate_operator))
    patched = (source.replace('"datetime(?)"', f'"{_MS}?)"')
               .replace('datetime(?)', f'{_MS}?)')
               .replace('f"datetime({field_for_datetime})"', f'f"{_MS}{{field_for_datetime}})"')
               .replace('datetime({field_access})', f'{_MS}{{field_access}})'))
    if patched == source or "datetime(?)" in patched:
        raise RuntimeError("neosqlite changed: the datetime precision fix no longer applies")
    namespace: dict = {}
    exec(compile(patched, module.__file__, "exec"), module.__dict__, namespace)  # noqa: S102
    module.SQLOperatorTranslator.translate_operator = namespace["translate_operator"]


def _object_id_equality_to_in(value):
    """``{"ref": ObjectId}`` and ``{"ref": {"$eq": ObjectId}}`` -> ``$in`` (equality on a
    non-_id ObjectId field matches nothing in neosqlite; ``$in`` does)."""
    from bson import ObjectId

    if isinstance(value, list):
        return [_object_id_equality_to_in(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key in ("$and", "$or", "$nor"):
            out[key] = [_object_id_equality_to_in(part) for part in item]
        elif key.startswith("$"):
            out[key] = _object_id_equality_to_in(item) if key in ("$not", "$elemMatch") else item
        elif key == "_id":
            out[key] = item
        elif isinstance(item, ObjectId):
            out[key] = {"$in": [item]}
        elif isinstance(item, dict) and isinstance(item.get("$eq"), ObjectId):
            rest = {op: arg for op, arg in item.items() if op != "$eq"}
            out[key] = {**rest, "$in": [item["$eq"]]}
        elif isinstance(item, dict) and isinstance(item.get("$ne"), ObjectId):
            rest = {op: arg for op, arg in item.items() if op != "$ne"}
            out[key] = {**rest, "$nin": [item["$ne"]]}
        elif isinstance(item, dict) and "$elemMatch" in item:
            out[key] = {**item, "$elemMatch": _object_id_equality_to_in(item["$elemMatch"])}
        else:
            out[key] = item
    return out


def fix_filter(query, upsert: bool = False):
    """Every rewrite a query filter needs before neosqlite sees it. An upsert's
    filter keeps its ObjectId equalities: the inserted document is built from
    them (exact matching decides whether anything matches)."""
    if not isinstance(query, dict):
        return query
    query = _split_mixed_or(_rewrite_regexes(query))
    if upsert:
        # neosqlite builds the upserted document from the filter as sent; a BSON
        # ObjectId there is stored as a string unless converted to its own type.
        from nx_27017.utils import convert_bson_to_neo_objectids

        return convert_bson_to_neo_objectids(query)
    return _object_id_equality_to_in(query)


def _fix_statement(statement):
    if not isinstance(statement, dict):
        return statement
    return {**statement, "q": fix_filter(statement.get("q"), bool(statement.get("upsert")))}


def _fix_pipeline(pipeline):
    fixed = []
    for stage in pipeline:
        if not isinstance(stage, dict):
            fixed.append(stage)
            continue
        stage = dict(stage)
        if "$match" in stage:
            stage["$match"] = fix_filter(stage["$match"])
        if isinstance(stage.get("$lookup"), dict) and "pipeline" in stage["$lookup"]:
            stage["$lookup"] = {**stage["$lookup"], "pipeline": _fix_pipeline(stage["$lookup"]["pipeline"])}
        if isinstance(stage.get("$facet"), dict):
            stage["$facet"] = {name: _fix_pipeline(sub) for name, sub in stage["$facet"].items()}
        fixed.append(stage)
    return fixed


# command name -> the keys of its body that hold a filter
_FILTER_KEYS = {"find": ("filter",), "count": ("query",), "distinct": ("query",),
                "findandmodify": ("query",), "delete": (), "update": ()}
# sequences whose documents hold a filter under "q"
_STATEMENT_LISTS = ("updates", "deletes")


def fix_command(sections):
    """Rewrite the filters of one decoded OP_MSG; documents and updates stay as sent."""
    from nx_27017.utils import convert_bson_to_neo_objectids

    fixed = []
    for kind, data in sections:
        if kind == "body" and isinstance(data, dict) and data:
            data = dict(data)
            command = next(iter(data)).lower()
            for key in _FILTER_KEYS.get(command, ()):
                if key in data:
                    data[key] = fix_filter(data[key], bool(data.get("upsert")))
            for key in _STATEMENT_LISTS:
                if isinstance(data.get(key), list):
                    data[key] = [_fix_statement(st) for st in data[key]]
            if command == "createindexes" and isinstance(data.get("indexes"), list):
                data["indexes"] = [_partial_index_as_sparse(spec) for spec in data["indexes"]]
            if command == "aggregate" and isinstance(data.get("pipeline"), list):
                data["pipeline"] = convert_bson_to_neo_objectids(_fix_pipeline(data["pipeline"]))
        elif kind == "payload" and isinstance(data, dict):
            data = {name: ([_fix_statement(st) for st in docs] if name in _STATEMENT_LISTS else docs)
                    for name, docs in data.items()}
        fixed.append((kind, data))
    return fixed


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
    built = None if _holds_object_id(safe) else (
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


def _install_exact_matching() -> None:
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

def _fix_upserts() -> None:
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


# --- aggregation: neosqlite's SQL tiers are wrong on common shapes; use its Python tier ---

def _is_count_shape(pipeline) -> bool:
    """``count_documents``' pipeline on a filter neosqlite evaluates right (SQL is fast here)."""
    from devstack import mongo_match

    if len(pipeline) < 2 or not all(isinstance(stage, dict) and len(stage) == 1 for stage in pipeline):
        return False
    first, *middle, last = pipeline
    group = last.get("$group")
    return ("$match" in first and mongo_match.is_fast_safe(first["$match"])
            and all(next(iter(stage)) in ("$skip", "$limit") for stage in middle)
            and isinstance(group, dict) and len(group) == 2 and group.get("_id") in (1, None)
            and any(value == {"$sum": 1} for key, value in group.items() if key != "_id"))


def _fix_aggregation() -> None:
    """The SQL tiers return ObjectIds and dates from ``$group`` as JSON strings, apply a
    ``$limit`` after a later ``$sort``, count arrays wrong under ``$count``, leak ``_id``
    as a string through ``$project``/``$replaceRoot`` and add ``_id`` to ``$facet``.
    Every pipeline but ``count_documents``' runs in neosqlite's Python tier instead
    (slower, right), and ``$count`` over nothing returns no document, as MongoDB does."""
    from neosqlite.collection import query_engine
    from neosqlite.collection.query_engine.python_aggregation_engine import execute_python_aggregation

    engine = query_engine.QueryEngine
    original = engine.aggregate_with_constraints

    def aggregate_with_constraints(self, pipeline, batch_size=101, memory_constrained=False, session=None):
        if _is_count_shape(pipeline):
            # neosqlite runs even this in its Python tier (2 s at 10k documents);
            # its own count_documents is one SQL COUNT.
            count = self.collection.count_documents(pipeline[0]["$match"])
            for stage in pipeline[1:-1]:
                if "$skip" in stage:
                    count = max(0, count - stage["$skip"])
                else:
                    count = min(count, stage["$limit"])
            group = pipeline[-1]["$group"]
            field = next(key for key, value in group.items() if key != "_id" and value == {"$sum": 1})
            return [{"_id": group["_id"], field: count}] if count else []
        results = execute_python_aggregation(self, pipeline, session)
        last = pipeline[-1] if pipeline else None
        if isinstance(last, dict) and "$count" in last and results == [{last["$count"]: 0}]:
            return []
        return results

    engine.aggregate_with_constraints = aggregate_with_constraints


_AVG_OLD = """avg_info = group.get(field, {"sum": 0, "count": 0})
avg_info["sum"] += value or 0
avg_info["count"] += 1
group[field] = avg_info"""
_AVG_NEW = """avg_info = group.get(field, {"sum": 0, "count": 0})
if isinstance(value, (int, float)) and not isinstance(value, bool):
    avg_info["sum"] += value
    avg_info["count"] += 1
group[field] = avg_info"""
_SUM_OLD = """group[field] = (group.get(field, 0) or 0) + (value or 0)"""
_SUM_NEW = """group[field] = (group.get(field, 0) or 0) + (
    value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0)"""


def _fix_group_accumulators() -> None:
    """``$avg`` counted documents without the field (or with a non-number) as 0, and
    ``$sum`` failed on strings; MongoDB ignores non-numbers in both."""
    from neosqlite.collection.query_helper.aggregation import AggregationMixin

    _patch_method(AggregationMixin, "_process_group_stage", (_AVG_OLD, _AVG_NEW), (_SUM_OLD, _SUM_NEW))


def _fix_compound_group_keys() -> None:
    """``{"$group": {"_id": {"day": <expr>, "plan": "$attrs.plan"}}}`` grouped every
    document into one group keyed by the literal spec. Each document gets its key
    evaluated here; neosqlite then groups by a string form of it."""
    from neosqlite.collection.expr_evaluator import ExprEvaluator
    from neosqlite.collection.query_helper import QueryHelper

    from devstack import mongo_match

    original = QueryHelper._process_group_stage

    def process_group_stage(self, group_query, docs):
        key = group_query.get("_id")
        if not (isinstance(key, dict) and key and not any(name.startswith("$") for name in key)):
            return original(self, group_query, docs)
        evaluator = ExprEvaluator(data_column="data", db_connection=self.collection.db)
        keys: dict[str, dict] = {}
        tagged = []
        for doc in docs:
            parts = {}
            for name, expr in key.items():
                if isinstance(expr, str) and expr.startswith("$") and not expr.startswith("$$"):
                    found = mongo_match._values(doc, expr[1:].split("."))
                    if found:
                        parts[name] = found[0]
                elif isinstance(expr, dict):
                    parts[name] = evaluator._evaluate_expr_python(expr, doc)
                else:
                    parts[name] = expr
            label = repr([(name, mongo_match._canon(value)) for name, value in parts.items()])
            keys[label] = parts
            tagged.append({**doc, "__vinculo_group": label})
        grouped = original(self, {**group_query, "_id": "$__vinculo_group"}, tagged)
        return [{**row, "_id": keys[row["_id"]]} for row in grouped]

    QueryHelper._process_group_stage = process_group_stage


_NO_CREATE = ("$unset", "$pull", "$pullAll", "$pop")


def _fix_python_update_paths() -> None:
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


def _fix_find_and_modify_errors() -> None:
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


# --- unique indexes: a missing field counts as null, as in MongoDB ---

_COMPANIONS = ("vnull_", "vtype_")  # indexes the stand-in adds next to declared ones; never listed

def _fix_unique_missing_fields() -> None:
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

    def create_index(self, key, reindex=True, sparse=False, unique=False, fts=False, tokenizer=None,
                     datetime_field=False, expireAfterSeconds=None, name=None, **kwargs):
        created = original_create(self, key, reindex, sparse, unique, fts, tokenizer, datetime_field,
                                  expireAfterSeconds, name, **kwargs)
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
        columns = ", ".join(f"ifnull({prefix}_extract(data, '{parse_json_path(field)}'), X'00')"
                            for field in fields)
        self.collection.db.execute(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {quote_identifier('vnull_' + created)} "
            f"ON {quote_table_name(self.collection.name)}({columns})")
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
            "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name=?", (manager.collection.name,))
        return {row[0] for row in rows}

    original_information = IndexManager.index_information
    original_list = IndexManager.list_indexes

    def index_information(self):
        return {name: info for name, info in original_information(self).items() if not name.startswith(_COMPANIONS)}

    def list_indexes(self, as_keys=False):
        names = original_list(self, as_keys=False)
        if as_keys:
            return [keys for name, keys in zip(names, original_list(self, as_keys=True))
                    if not name.startswith(_COMPANIONS)]
        return [name for name in names if not name.startswith(_COMPANIONS)]

    IndexManager.create_index = create_index
    IndexManager.drop_index = drop_index
    IndexManager.index_information = index_information
    IndexManager.list_indexes = list_indexes


def _partial_index_as_sparse(spec):
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


def _replace_lines(source: str, old: str, new: str) -> str:
    """Replace ``old`` (lines compared without their indentation) by ``new``, indented as found."""
    lines = source.splitlines(keepends=True)
    old_lines = [line.strip() for line in old.splitlines()]
    for start in range(len(lines) - len(old_lines) + 1):
        if [line.strip() for line in lines[start:start + len(old_lines)]] == old_lines:
            indent = lines[start][:len(lines[start]) - len(lines[start].lstrip())]
            replacement = "".join(indent + line.rstrip() + "\n" for line in new.splitlines())
            return "".join(lines[:start]) + replacement + "".join(lines[start + len(old_lines):])
    raise RuntimeError("neosqlite changed: the indexed equality fix no longer applies")


def _patch_method(cls, name: str, *replacements: tuple[str, str]) -> None:
    """Recompile method ``name`` of ``cls`` with (old, new) line replacements; raises
    at start-up when the code no longer holds ``old`` (neosqlite changed)."""
    import textwrap

    module = inspect.getmodule(cls)
    source = textwrap.dedent(inspect.getsource(getattr(cls, name)))
    for old, new in replacements:
        source = _replace_lines(source, old, new)
    namespace: dict = {}
    exec(compile(source, module.__file__, "exec"), module.__dict__, namespace)  # noqa: S102
    setattr(cls, name, namespace[name])


def _fix_indexed_equality() -> None:
    """Equality compiles to ``f = ? OR EXISTS (json_each(CASE WHEN json_type(f) = 'array'
    ...))`` (arrays contain their elements), which SQLite can only answer by scanning
    every row, so declared indexes went unused for equality (a claim on an indexed
    ``state`` scanned the collection). The array arm is rewritten to the equivalent
    ``(json_type(f) = 'array' AND EXISTS (...))`` and each index gets companion
    indexes on ``json_type`` of its paths, so SQLite answers with a MULTI-INDEX OR."""
    from neosqlite.collection.query_helper._sql_query_builder import SqlQueryBuilderMixin
    from neosqlite.collection.sql_translator_unified import SQLClauseBuilder

    _patch_method(SQLClauseBuilder, "build_where_clause", (_ARM_OLD_UNIFIED, _ARM_NEW_UNIFIED))
    _patch_method(SqlQueryBuilderMixin, "_build_containment_clause", (_ARM_OLD_BUILDER, _ARM_NEW_BUILDER))
    # neosqlite skipped array containment on indexed fields to keep the index usable:
    # {"tags": "vip"} found nothing when "tags" was indexed. The arm no longer costs the index.
    if not hasattr(SqlQueryBuilderMixin, "_field_has_index"):
        raise RuntimeError("neosqlite changed: the indexed containment fix no longer applies")
    SqlQueryBuilderMixin._field_has_index = lambda self, field: False


def _create_type_indexes(manager, created: str, fields: list[str]) -> None:
    """Companion ``json_type`` indexes for the array arms of equality on ``fields``."""
    from neosqlite.collection.json_path_utils import parse_json_path
    from neosqlite.sql_utils import quote_identifier, quote_table_name

    prefixes = {".".join(field.split(".")[:k]) for field in fields if field != "_id"
                for k in range(1, len(field.split(".")) + 1)}
    for number, path in enumerate(sorted(prefixes)):
        manager.collection.db.execute(
            f"CREATE INDEX IF NOT EXISTS {quote_identifier(f'vtype_{created}_{number}')} "
            f"ON {quote_table_name(manager.collection.name)}(json_type(data, '{parse_json_path(path)}'))")


# --- projections on dotted paths ---

def _include_path(source, target: dict, parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if not isinstance(source, dict) or head not in source:
        return
    value = source[head]
    if not rest:
        target[head] = copy.deepcopy(value)
    elif isinstance(value, dict):
        _include_path(value, target.setdefault(head, {}), rest)
    elif isinstance(value, list):
        items = target.setdefault(head, [{} for item in value if isinstance(item, dict)])
        for item, out in zip([item for item in value if isinstance(item, dict)], items):
            _include_path(item, out, rest)


def _exclude_path(doc, parts: list[str]) -> None:
    if isinstance(doc, list):
        for item in doc:
            _exclude_path(item, parts)
    elif isinstance(doc, dict):
        if len(parts) == 1:
            doc.pop(parts[0], None)
        elif parts[0] in doc:
            _exclude_path(doc[parts[0]], parts[1:])


def _fix_dotted_projection() -> None:
    """``find({}, {"emb.x": 1})`` returned ``{"emb.x": 1}`` (a flat key) instead of
    ``{"emb": {"x": 1}}``, and ``{"emb.x": 0}`` excluded nothing; what
    mongoengine's ``only("stats.total")``/``exclude`` send. Plain 0/1 projections
    with dotted paths are applied here."""
    from neosqlite.collection.query_helper.aggregation import AggregationMixin

    original = AggregationMixin._apply_projection

    def apply_projection(self, projection, document):
        if not (isinstance(projection, dict) and any("." in key for key in projection)
                and all(value in (0, 1) for value in projection.values())):
            return original(self, projection, document)
        include_id = projection.get("_id", 1) in (1, True)
        if any(value in (1, True) for key, value in projection.items() if key != "_id"):
            out: dict = {}
            if include_id and "_id" in document:
                out["_id"] = document["_id"]
            for key, value in projection.items():
                if key != "_id" and value in (1, True):
                    _include_path(document, out, key.split("."))
            return out
        out = copy.deepcopy(document)
        for key, value in projection.items():
            if value in (0, False):
                _exclude_path(out, key.split("."))
        return out

    AggregationMixin._apply_projection = apply_projection


def apply_fixes() -> None:
    """Patch nx-27017 and neosqlite in this process (idempotent)."""
    from neosqlite.collection.query_helper._sql_updates import SqlUpdatesMixin
    from nx_27017 import wire_protocol

    if getattr(wire_protocol.OP_MSG, "_vinculo_fixed", False):
        return

    original_parse = wire_protocol.OP_MSG.parse

    def parse(message_bytes):
        msg = original_parse(message_bytes)
        msg["sections"] = fix_command(msg["sections"])
        return msg

    wire_protocol.OP_MSG.parse = staticmethod(parse)
    wire_protocol.OP_MSG._vinculo_fixed = True

    original_can_use = SqlUpdatesMixin._can_use_sql_updates

    def can_use_sql_updates(self, update_spec, doc_id, original_doc=None):
        if _holds_bool_or_datetime(update_spec) or _needs_python_update(update_spec, doc_id):
            return False
        return original_can_use(self, update_spec, doc_id, original_doc)

    SqlUpdatesMixin._can_use_sql_updates = can_use_sql_updates
    _fix_datetime_precision()
    _install_exact_matching()
    _fix_upserts()
    _fix_aggregation()
    _fix_group_accumulators()
    _fix_compound_group_keys()
    _fix_python_update_paths()
    _fix_find_and_modify_errors()
    _fix_unique_missing_fields()
    _fix_indexed_equality()
    _fix_dotted_projection()


def serve(host: str, port: int, data_dir: str) -> None:
    """Serve until interrupted; ``data_dir`` is a folder or ``memory``."""
    apply_fixes()
    from nx_27017.handler import NeoSQLiteHandler
    from nx_27017.server import run_server

    handler = NeoSQLiteHandler(":memory:", data_dir=data_dir)
    try:
        asyncio.run(run_server(host, port, handler))
    except KeyboardInterrupt:
        pass
    finally:
        handler.close_all()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=27017)
    parser.add_argument("--data-dir", default="memory",
                        help="folder for one SQLite file per database, or 'memory'")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    serve(args.host, args.port, args.data_dir)


if __name__ == "__main__":
    main()
