"""The stand-in's aggregation and projection fixes (applied by
:mod:`devstack.mongo_standin`, which checks at start-up that neosqlite is the
version these overrides were written against)."""

from __future__ import annotations

import copy

# A stage only mongo_fixes.resolve_sections writes: the number of documents the exact
# matcher found, for count_documents' pipeline (instead of a list of every _id to count).
COUNTED = "$vinculoStandinCounted"


# --- aggregation: neosqlite's SQL tiers are wrong on common shapes; use its Python tier ---


def is_count_shape(pipeline, safe: bool = True) -> bool:
    """``count_documents``' pipeline (on a filter neosqlite evaluates right when
    ``safe``: SQL is fast there)."""
    from devstack import mongo_match

    if len(pipeline) < 2 or not all(isinstance(stage, dict) and len(stage) == 1 for stage in pipeline):
        return False
    first, *middle, last = pipeline
    group = last.get("$group")
    return (
        "$match" in first
        and (not safe or mongo_match.is_fast_safe(first["$match"]))
        and all(next(iter(stage)) in ("$skip", "$limit") for stage in middle)
        and isinstance(group, dict)
        and len(group) == 2
        and group.get("_id") in (1, None)
        and any(value == {"$sum": 1} for key, value in group.items() if key != "_id")
    )


def _count(collection, match: dict) -> int:
    """``count_documents`` for a filter neosqlite evaluates right. Its own counts of a
    filter on ``_id`` alone (as a client may send; filters the exact matcher narrowed
    arrive already counted, see ``COUNTED``) load each matching document in Python; a
    SQL ``COUNT`` over the ``_id`` key gives the same number."""
    if set(match) == {"_id"}:
        built = collection.query_engine.helpers._build_simple_where_clause(match)
        if built is not None and built[0]:
            row = collection.db.execute(
                f'SELECT COUNT(id) FROM "{collection.name}" {built[0]}', built[1]
            ).fetchone()
            return row[0] if row else 0
    return collection.count_documents(match)


_PASSING = ("$match", "$sort", "$limit", "$skip")  # stages that keep documents whole before a $group


def _fields_read(pipeline: list) -> set | None:
    """The top-level fields a pipeline reads, when it ends its use of the stored
    documents at a ``$group`` (before it: only ``$match``/``$sort``/``$limit``/``$skip``)
    and names no ``$$`` variable; else None (every field is needed)."""
    import json

    fields: set = set()
    for stage in pipeline:
        if not isinstance(stage, dict) or len(stage) != 1:
            return None
        name, spec = next(iter(stage.items()))
        if name == "$group":
            if "$$" in json.dumps(spec, default=str):
                return None
            return fields | _named(spec)
        if name not in _PASSING:
            return None
        if name in ("$match", "$sort"):
            if not isinstance(spec, dict) or any(key.startswith("$") for key in spec):
                return None
            fields |= {key.split(".", 1)[0] for key in spec}
    return None


def _named(spec) -> set:
    """Field paths named as "$field" values in a $group spec (operator names aside)."""
    found: set = set()
    if isinstance(spec, dict):
        for value in spec.values():
            found |= _named(value)
    elif isinstance(spec, list):
        for value in spec:
            found |= _named(value)
    elif isinstance(spec, str) and spec.startswith("$") and not spec.startswith("$$"):
        found.add(spec[1:].split(".", 1)[0])
    return found


def _load_fields(query_engine, match: dict, rest: list):
    """The documents ``match`` selects, reduced to the fields ``rest`` reads (SQLite
    extracts them; whole documents are decoded in Python otherwise); None when the
    pipeline needs whole documents or SQL cannot express ``match``."""
    from neosqlite.collection.json_helpers import neosqlite_json_loads

    fields = _fields_read(rest)
    collection = query_engine.collection
    if fields is None or not all(field.isidentifier() for field in fields):
        return None
    built = query_engine.helpers._build_simple_where_clause(match)
    if built is None or built[2]:
        return None
    from devstack.mongo_fixes import field_columns, partial_document

    names = sorted(fields | {"_id"})
    docs = []
    for row in collection.db.execute(
        f'SELECT id, _id, {field_columns(names)} FROM "{collection.name}" {built[0]}', built[1]
    ):
        doc = partial_document(names, row[2:], neosqlite_json_loads)
        if "_id" not in doc:
            doc["_id"] = collection._resolve_stored_id(row[1], row[0])
        docs.append(doc)
    return docs


class _RootShared(dict):
    """A loaded document whose first deep copy, the ``$$ROOT`` copy neosqlite 1.17.2's
    Python tier makes of each document before the first stage, is itself; later copies
    (``$unwind``, ...) are real ones."""

    def __deepcopy__(self, memo):
        if "root_copied" in self.__dict__:
            return copy.deepcopy(dict(self), memo)
        self.root_copied = True
        return self


class _Loaded:
    """A query engine whose ``find`` gives the documents already loaded."""

    def __init__(self, engine, docs):
        self.engine, self.find = engine, lambda *args, **kwargs: docs

    def __getattr__(self, name):
        return getattr(self.engine, name)


def fix_aggregation_loading() -> None:
    """neosqlite's Python aggregation loaded *every* document of the collection,
    deep-copied each (for ``$$ROOT``), then applied the first ``$match`` in Python:
    a pipeline over the 6 mentions of one query among 10,000 read all 10,000, and a
    ``$match`` the exact matcher had narrowed to ``{"_id": {"$in": [...]}}`` tested
    that whole list against each document. A first ``$match`` the exact matcher
    resolved to ``_id``s now selects the documents in SQL (other first stages still
    run in Python), and the copy is made only when the pipeline names ``$$ROOT``.
    Written against neosqlite 1.17.2 (checked at start-up)."""
    from neosqlite.collection import query_engine
    from neosqlite.collection.query_engine import python_aggregation_engine as module

    from devstack import mongo_match

    original = module.execute_python_aggregation

    def execute_python_aggregation(engine, pipeline, session=None):
        stage = pipeline[0] if pipeline else {}
        first = stage.get("$match") if isinstance(stage, dict) and len(stage) == 1 else None
        # Only the resolved {"_id": {"$in": [...]}}: other filters neosqlite's SQL gets wrong
        # on mixed types (ranges on arrays, a string range meeting an object) stay in Python.
        if isinstance(first, dict) and set(first) == {"_id"} and mongo_match.is_fast_safe(first):
            docs = _load_fields(engine, first, pipeline[1:])
            docs = list(engine.find(first, session=session)) if docs is None else docs
            pipeline = pipeline[1:]
        else:
            docs = list(engine.find(session=session))
        if "$$ROOT" not in repr(pipeline):
            docs = [_RootShared(doc) for doc in docs]
        return original(_Loaded(engine, docs), pipeline, session)

    module.execute_python_aggregation = execute_python_aggregation
    query_engine.execute_python_aggregation = execute_python_aggregation  # imported by name there


def fix_aggregation() -> None:
    """The SQL tiers return ObjectIds and dates from ``$group`` as JSON strings, apply a
    ``$limit`` after a later ``$sort``, count arrays wrong under ``$count``, leak ``_id``
    as a string through ``$project``/``$replaceRoot`` and add ``_id`` to ``$facet``.
    Every pipeline but ``count_documents``' runs in neosqlite's Python tier instead
    (slower, right), and ``$count`` over nothing returns no document, as MongoDB does."""
    from neosqlite.collection import query_engine
    from neosqlite.collection.query_engine import python_aggregation_engine

    engine = query_engine.QueryEngine

    def aggregate_with_constraints(self, pipeline, batch_size=101, memory_constrained=False, session=None):
        counted = pipeline[1].get(COUNTED) if len(pipeline) > 1 and isinstance(pipeline[1], dict) else None
        if counted is not None:  # the exact matcher counted already (mongo_fixes.resolve_sections)
            pipeline = [pipeline[0], *pipeline[2:]]
        if counted is not None or is_count_shape(pipeline):
            # neosqlite runs even this in its Python tier (2 s at 10k documents);
            # its own count_documents is one SQL COUNT.
            count = counted if counted is not None else _count(self.collection, pipeline[0]["$match"])
            for stage in pipeline[1:-1]:
                if "$skip" in stage:
                    count = max(0, count - stage["$skip"])
                else:
                    count = min(count, stage["$limit"])
            group = pipeline[-1]["$group"]
            field = next(key for key, value in group.items() if key != "_id" and value == {"$sum": 1})
            return [{"_id": group["_id"], field: count}] if count else []
        results = python_aggregation_engine.execute_python_aggregation(self, pipeline, session)
        last = pipeline[-1] if pipeline else None
        if isinstance(last, dict) and "$count" in last and results == [{last["$count"]: 0}]:
            return []
        return results

    engine.aggregate_with_constraints = aggregate_with_constraints


def fix_group_accumulators() -> None:
    """``$avg`` counted documents without the field (or with a non-number) as 0, and
    ``$sum`` failed on strings; MongoDB ignores non-numbers in both. neosqlite collects
    their values (as ``$push``) and the numbers among them are summed here."""
    from neosqlite.collection.query_helper.aggregation import AggregationMixin

    original = AggregationMixin._process_group_stage

    def process_group_stage(self, group_query, docs):
        numeric = {
            field: op
            for field, spec in group_query.items()
            for op in (spec if field != "_id" and isinstance(spec, dict) and len(spec) == 1 else ())
            if op in ("$sum", "$avg")
        }
        if not numeric:
            return original(self, group_query, docs)
        spec = {
            key: {"$push": value[numeric[key]]} if key in numeric else value
            for key, value in group_query.items()
        }
        rows = original(self, spec, docs)
        for row in rows:
            for field, op in numeric.items():
                found = [
                    v for v in row.get(field, []) if isinstance(v, (int, float)) and not isinstance(v, bool)
                ]
                row[field] = sum(found) if op == "$sum" else (sum(found) / len(found) if found else None)
        return rows

    AggregationMixin._process_group_stage = process_group_stage


def fix_compound_group_keys() -> None:
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


def fix_dotted_projection() -> None:
    """``find({}, {"emb.x": 1})`` returned ``{"emb.x": 1}`` (a flat key) instead of
    ``{"emb": {"x": 1}}``, and ``{"emb.x": 0}`` excluded nothing; what
    mongoengine's ``only("stats.total")``/``exclude`` send. Plain 0/1 projections
    with dotted paths are applied here."""
    from neosqlite.collection.query_helper.aggregation import AggregationMixin

    original = AggregationMixin._apply_projection

    def apply_projection(self, projection, document):
        if not (
            isinstance(projection, dict)
            and any("." in key for key in projection)
            and all(value in (0, 1) for value in projection.values())
        ):
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
