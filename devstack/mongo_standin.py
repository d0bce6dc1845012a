"""A MongoDB wire-protocol server for local runs and tests (nx-27017 on SQLite).

Production uses real MongoDB. Here no ``mongod`` can be installed, so the
services talk over TCP to nx-27017, with these fixes applied before it
serves (filter rewrites touch only the filters of a command, never the
documents or updates it carries). neosqlite's methods are wrapped or overridden
in plain code, never by editing its source; they were written against the pinned
neosqlite (``NEOSQLITE``), and start-up refuses any other version:

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
* exact matching (:mod:`devstack.mongo_match`, wired in :mod:`devstack.mongo_fixes`;
  index and aggregation fixes in ``mongo_fixes_index``/``mongo_fixes_aggregate``):
  every filter outside the
  shapes neosqlite is known to evaluate right (equality, ``$in`` and ranges on
  plain scalars, ``$and``/``$or`` of those) is evaluated in Python with
  MongoDB's semantics under the database lock and narrowed to the matching
  ``_id`` values: null vs missing, ``$ne``/``$nin``/``$nor``/``$not`` (SQL
  three-valued logic dropped documents without the field; ``$not`` was not
  implemented), ``$exists``, ``$size``, ``$all``, regexes on arrays and in
  ``$in``, whole-document and whole-array equality, ObjectId ranges, non-ASCII
  keys. The filter's safe part (its plain field conditions, through nested
  ``$and``; an ``_id`` alone when there is one; anchored literal prefix regexes
  as index ranges) pre-selects rows with indexes, only the fields the filter
  names are read, and a conjunction of string equality or ``$in`` on strings,
  ObjectId references and ``$ne`` on scalars is answered by SQL alone (numbers,
  booleans and ranges are still tested exactly in Python: SQL takes true for 1). ``count_documents`` of such filters counts the matches
  without listing them, and a page sorted by ``_id`` lists only its ids;
* ``find_one_and_update(upsert=True)`` keeps ``$setOnInsert``;
  findAndModify errors (duplicate key, ...) are answered as errors, not as
  "no document matched";
* aggregations run in neosqlite's Python tier, whose documents a first
  ``$match`` resolved to ``_id``s loads in SQL (its SQL tiers returned
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
  MongoDB's name does nothing); TTL purges when the collection is next used,
  at most every 30 s (MongoDB: every 60 s);
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
  100,000 documents); sorting on an indexed datetime uses the index;

``tests/store/`` pins each behaviour the code relies on, by theme, and passes
unchanged against real MongoDB (``VINCULO_TEST_MONGO_URI``).

Run: ``python -m devstack.mongo_standin --port 27017 --data-dir ./var/store``
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib.metadata
import logging
import re

from bson.regex import Regex

_FLAG_LETTERS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"), (re.VERBOSE, "x"))


def _regex_to_operator(value):
    if isinstance(value, Regex):
        return {
            "$regex": value.pattern,
            "$options": value.flags
            if isinstance(value.flags, str)
            else "".join(letter for flag, letter in _FLAG_LETTERS if value.flags & flag),
        }
    if isinstance(value, re.Pattern):
        return {
            "$regex": value.pattern,
            "$options": "".join(letter for flag, letter in _FLAG_LETTERS if value.flags & flag),
        }
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
NEOSQLITE = "1.17.2"  # the version every override of neosqlite here was written against (requirements.txt)


def _fix_datetime_precision() -> None:
    """Each ``datetime(`` of the SQL neosqlite 1.17.2 writes for a datetime comparison
    (its only use there) becomes ``strftime('%Y-%m-%d %H:%M:%f', ``: milliseconds kept."""
    from neosqlite.collection.sql_translator_unified import SQLOperatorTranslator

    original = SQLOperatorTranslator.translate_operator

    def translate_operator(self, field_access, operator, value):
        sql, params = original(self, field_access, operator, value)
        return (sql.replace("datetime(", _MS) if sql else sql), params

    SQLOperatorTranslator.translate_operator = translate_operator


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
_FILTER_KEYS = {
    "find": ("filter",),
    "count": ("query",),
    "distinct": ("query",),
    "findandmodify": ("query",),
    "delete": (),
    "update": (),
}
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
                from devstack.mongo_fixes_index import partial_index_as_sparse

                data["indexes"] = [partial_index_as_sparse(spec) for spec in data["indexes"]]
            if command == "aggregate" and isinstance(data.get("pipeline"), list):
                data["pipeline"] = convert_bson_to_neo_objectids(_fix_pipeline(data["pipeline"]))
        elif kind == "payload" and isinstance(data, dict):
            data = {
                name: ([_fix_statement(st) for st in docs] if name in _STATEMENT_LISTS else docs)
                for name, docs in data.items()
            }
        fixed.append((kind, data))
    return fixed


def apply_fixes() -> None:
    """Patch nx-27017 and neosqlite in this process (idempotent)."""
    from neosqlite.collection.query_helper._sql_updates import SqlUpdatesMixin
    from nx_27017 import wire_protocol

    if getattr(wire_protocol.OP_MSG, "_vinculo_fixed", False):
        return
    if (found := importlib.metadata.version("neosqlite")) != NEOSQLITE:
        raise RuntimeError(f"neosqlite {found}: the stand-in's overrides were written for {NEOSQLITE}")

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
    from devstack import mongo_fixes, mongo_fixes_aggregate, mongo_fixes_index

    mongo_fixes.install_exact_matching()
    mongo_fixes.fix_upserts()
    mongo_fixes_aggregate.fix_aggregation()
    mongo_fixes_aggregate.fix_aggregation_loading()
    mongo_fixes_aggregate.fix_group_accumulators()
    mongo_fixes_aggregate.fix_compound_group_keys()
    mongo_fixes.fix_python_update_paths()
    mongo_fixes.fix_find_and_modify_errors()
    mongo_fixes_index.fix_unique_missing_fields()
    mongo_fixes_index.fix_indexed_equality()
    mongo_fixes_index.throttle_ttl_purges()
    mongo_fixes_index.fix_insert_overhead()
    mongo_fixes_aggregate.fix_dotted_projection()

    add_geo_within()


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
    parser.add_argument(
        "--data-dir", default="memory", help="folder for one SQLite file per database, or 'memory'"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    serve(args.host, args.port, args.data_dir)


# --- geo: $geoWithin with $centerSphere (added for the segments service) -----
#
# neosqlite has no geo operators: a filter with $geoWithin fails with
# "Operator '$geoWithin' is not currently implemented". Its Python matcher
# looks operators up by name in neosqlite.query_operators, so registering
# ``_geoWithin`` there makes it evaluate ``{"$centerSphere": [[lng, lat],
# radians]}`` against GeoJSON points (and legacy [lng, lat] pairs) with the
# haversine distance on a sphere, as MongoDB does. It scans (no 2dsphere
# index here); real MongoDB answers the same filter from its index.


def _point_of(value):
    if isinstance(value, dict) and value.get("type") == "Point":
        value = value.get("coordinates")
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        return float(value[0]), float(value[1])
    return None


def _geo_within(field, value, document) -> bool:
    import math

    from neosqlite.query_operators import _get_nested_field

    if not isinstance(value, dict) or "$centerSphere" not in value:
        from neosqlite.exceptions import MalformedQueryException

        raise MalformedQueryException("the stand-in supports $geoWithin only with $centerSphere")
    (center, radians) = value["$centerSphere"]
    point, origin = _point_of(_get_nested_field(field, document)), _point_of(center)
    if point is None or origin is None:
        return False
    lng1, lat1, lng2, lat2 = map(math.radians, (*origin, *point))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    return 2 * math.asin(min(1.0, math.sqrt(h))) <= float(radians)


def add_geo_within() -> None:
    from neosqlite import query_operators

    query_operators._geoWithin = _geo_within


if __name__ == "__main__":
    main()
