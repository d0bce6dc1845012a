"""The stand-in's aggregation and projection fixes (applied by
:mod:`devstack.mongo_standin`). Each patch of library code raises at start-up
when the code it replaces has changed."""

from __future__ import annotations

import copy

from devstack.mongo_fixes_index import _patch_method


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


def fix_aggregation() -> None:
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


def fix_group_accumulators() -> None:
    """``$avg`` counted documents without the field (or with a non-number) as 0, and
    ``$sum`` failed on strings; MongoDB ignores non-numbers in both."""
    from neosqlite.collection.query_helper.aggregation import AggregationMixin

    _patch_method(AggregationMixin, "_process_group_stage", (_AVG_OLD, _AVG_NEW), (_SUM_OLD, _SUM_NEW))


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
