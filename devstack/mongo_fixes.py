"""The stand-in's filter and write fixes: exact matching, upserts, dotted updates,
findAndModify errors (see the notes in
:mod:`devstack.mongo_standin`, which applies them at start-up after checking that
neosqlite is the version these overrides were written against)."""

from __future__ import annotations

import copy

from devstack.mongo_fixes_aggregate import COUNTED, is_count_shape
from devstack.mongo_standin import _STATEMENT_LISTS

# --- exact matching: filters neosqlite gets wrong are narrowed to the _ids that match ---

# command name -> key of the collection name, keys of the body that hold a filter
_RESOLVED_FILTERS = {
    "find": ("filter",),
    "count": ("query",),
    "distinct": ("query",),
    "findandmodify": ("query",),
}


def _collection_exists(db, name: str) -> bool:
    row = db.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
    return row is not None


def _resolve_filter(db, coll_name: str, query, upsert: bool = False):
    """``query`` itself when neosqlite evaluates it right, else ``{"_id": {"$in": [...]}}``
    listing the documents that really match (computed by :mod:`devstack.mongo_match`).

    An upsert that matches nothing keeps its filter: the new document is built from it,
    and a filter neosqlite matches nothing with is what an upsert needs then."""
    if isinstance(query, dict) and query.get("_id") == {"$in": []}:
        # neosqlite answers an empty _id $in by loading every document in Python
        return {**query, "_id": {"$in": [_NO_ID]}}
    if not _needs_narrowing(query):
        return query
    if not _collection_exists(db, coll_name):
        return query
    from nx_27017.utils import convert_bson_to_neo_objectids

    # neosqlite's find() matches ObjectIds only in its own type (nx-27017 converts
    # them later, after this runs)
    ids = _matching_ids(db[coll_name], convert_bson_to_neo_objectids(query))
    if upsert and not ids:
        return query
    # neosqlite answers an empty ``$in`` by loading every document in Python; a value
    # no document holds as its ``_id`` finds nothing through the ``_id`` key instead.
    return {"_id": {"$in": ids or [_NO_ID]}}


_NO_ID = "\x00vinculo-standin-matches-nothing"


def _first_by_id(resolved: dict, sort, skip, limit) -> dict:
    """A page in ``_id`` order of a resolved filter needs only its first ``skip + limit``
    ids: neosqlite would load every listed document to sort them."""
    from neosqlite.objectid import ObjectId

    ids = resolved["_id"]["$in"]
    if (
        not limit
        or not isinstance(sort, dict)
        or list(sort) != ["_id"]
        or sort["_id"] not in (1, -1)
        or not all(isinstance(item, ObjectId) for item in ids)
    ):
        return resolved
    wanted = (skip or 0) + abs(limit)
    if len(ids) <= wanted:
        return resolved
    ordered = sorted(ids, key=str, reverse=sort["_id"] == -1)  # hex order is byte order
    return {"_id": {"$in": ordered[:wanted]}}


def _matching_ids(collection, query: dict) -> list:
    """The ``_id`` of every document matching ``query``: rows pre-selected by the
    filter's safe part in SQL, decoded with plain ``json.loads`` (neosqlite's loader
    is 4x slower) and tested by :func:`devstack.mongo_match.matches`."""
    import json

    from devstack import mongo_match

    safe = _safe_conjuncts(query)
    if "_id" in safe:  # a point lookup: neosqlite finds _id alone by its key, not with other fields
        safe = {"_id": safe["_id"]}
    # neosqlite's where-clause builder needs its find() to prepare ObjectIds (and _id):
    # such pre-filters (typically one _id) go through find(), the rest through raw SQL.
    # Datetimes too: the simple where-clause builder compares them as plain strings
    # against the stored {"$date": ...} objects and selects nothing.
    built = (
        None
        if _holds_object_id(safe) or _holds_datetime(safe)
        else (collection.query_engine.helpers._build_simple_where_clause(safe) if safe else ("", [], []))
    )
    if built is None or "data" not in _table_columns(collection):
        return [doc["_id"] for doc in collection.find(safe) if mongo_match.matches(doc, query)]
    exact = _exact_where(collection, query)
    if exact is not None:  # SQL decides alone: only the ids are read, from their column
        # (an ObjectId and its hex string share the column's value; the resolved
        # filter compares that column, so either finds the same document)
        where, params = exact
        rows = collection.db.execute(f'SELECT id, _id FROM "{collection.name}" WHERE {where}', params)
        return [collection._resolve_stored_id(stored, rowid) for rowid, stored in rows]
    where, params, _tables = built
    extra, extra_params = _prefix_conditions(collection, query)
    if extra:
        where = f"{where} AND {extra}" if where else f"WHERE {extra}"
        params = [*params, *extra_params]
    fields = _top_fields(query)
    if fields is None:
        columns, decode = "data", json.loads
    else:  # only the fields the filter reads: SQLite extracts them far faster than Python decodes documents
        fields = sorted(fields | {"_id"})
        columns = field_columns(fields)
        decode = None
    ids = []
    for row in collection.db.execute(f'SELECT id, _id, {columns} FROM "{collection.name}" {where}', params):
        rowid, stored = row[0], row[1]
        doc = decode(row[2]) if decode else partial_document(fields, row[2:])
        if not mongo_match.matches(doc if "_id" in doc else {**doc, "_id": stored}, query):
            continue
        ids.append(_decoded_id(collection, rowid, stored, doc.get("_id", _MISSING_ID)))
    return ids


def _decoded_id(collection, rowid, stored, _id):
    from neosqlite.objectid import ObjectId

    if isinstance(_id, dict) and _id.get("__neosqlite_objectid__") is True:
        return ObjectId(_id["id"])
    if _id is _MISSING_ID:
        return collection._resolve_stored_id(stored, rowid)
    return _id


def _exact_where(collection, query: dict) -> tuple[str, list] | None:
    """A SQL condition selecting exactly the documents that match ``query``, when it is
    a conjunction of conditions neosqlite's SQL evaluates right and of ``$ne`` on a
    scalar of a top-level field (``{"erased": {"$ne": true}}``, in every audience
    filter); None otherwise, and the exact test in Python decides."""
    from devstack import mongo_match

    conjuncts: list = []
    if not _conjuncts(query, conjuncts):
        return None
    helpers = collection.query_engine.helpers
    clauses, params = [], []
    for key, cond in conjuncts:
        reference = None if key in ("_id", "$or") else _reference_arm(collection, key, cond)
        if reference is not None:  # the stored JSON text of an ObjectId is exact
            clauses.append(reference[0])
            params.extend(reference[1])
            continue
        if key == "_id" or _holds_object_id({key: cond}) or _holds_datetime(cond):
            return None
        if mongo_match.is_fast_safe({key: cond}) and _text_condition(cond):
            built = helpers._build_simple_where_clause({key: cond})
            if built is None or built[2] or not built[0].startswith("WHERE "):
                return None
            clauses.append(f"({built[0][len('WHERE ') :]})")
            params.extend(built[1])
            continue
        negation = _not_equal_sql(key, cond)
        if negation is None:
            return None
        clauses.append(negation[0])
        params.extend(negation[1])
    return (" AND ".join(clauses) or "1"), params


def _text_condition(cond) -> bool:
    """Equality or ``$in`` on strings: what neosqlite's SQL answers exactly whatever the
    stored types. Numbers (SQL takes true for 1), booleans and ranges (SQL compares an
    object's JSON text with a string) are left to the exact test in Python."""
    if isinstance(cond, str):
        return True
    if isinstance(cond, dict) and len(cond) == 1:
        op, value = next(iter(cond.items()))
        return (op == "$eq" and isinstance(value, str)) or (
            op == "$in" and isinstance(value, list) and all(isinstance(v, str) for v in value)
        )
    return False


def _conjuncts(query: dict, out: list) -> bool:
    for key, cond in query.items():
        if key == "$and":
            if (
                not isinstance(cond, list)
                or not cond
                or not all(isinstance(p, dict) and _conjuncts(p, out) for p in cond)
            ):
                return False
        elif key.startswith("$") and key != "$or":
            return False
        else:
            out.append((key, cond))
    return True


def _not_equal_sql(field: str, cond) -> tuple[str, list] | None:
    """``{field: {"$ne": value}}`` with MongoDB's semantics: true when the field is
    missing, and when neither it nor (if an array) any element equals ``value``; a
    boolean never equals a number."""
    if not isinstance(cond, dict) or list(cond) != ["$ne"] or not _FIELD_NAME.fullmatch(field):
        return None
    value = cond["$ne"]
    path = f"'$.{field}'"
    if isinstance(value, bool):
        same, params = f"type = '{'true' if value else 'false'}'", []
    elif isinstance(value, (int, float)):
        same, params = "type IN ('integer', 'real') AND value = ?", [value]
    elif isinstance(value, str):
        same, params = "type = 'text' AND value = ?", [value]
    else:
        return None
    return (
        f"NOT EXISTS (SELECT 1 FROM json_each(data, {path}) WHERE {same} "
        f"AND (json_type(data, {path}) = 'array' OR key IS NULL))",
        params,
    )


_FIELD_NAME = __import__("re").compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REGEX_META = set(".^$*+?{}[]|()\\")


def _literal_prefix(cond) -> str | None:
    """``p`` when ``cond`` is the regex ``^p`` with ``p`` literal (``re.escape`` output
    included) and no option but ``i`` (case) and ``s``; else None."""
    if (
        not isinstance(cond, dict)
        or set(cond) - {"$regex", "$options"}
        or not isinstance(cond.get("$regex"), str)
    ):
        return None
    if set(cond.get("$options") or "") - {"s", "i"}:
        return None
    pattern = cond["$regex"]
    if not pattern.startswith("^") or len(pattern) < 2:
        return None
    out, i = [], 1
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1].isalnum():
                return None  # \d, \w, \1 ...: not a literal
            out.append(pattern[i + 1])
            i += 2
        elif char in _REGEX_META:
            return None
        else:
            out.append(char)
            i += 1
    return "".join(out)


_CASE_CLASSES: dict = {}


def _case_variants(char: str) -> set:
    """Every character a case-insensitive regex matches for ``char`` (simple case
    mappings, joined transitively: k, K and the Kelvin sign; s, S and long s; ...)."""
    if not _CASE_CLASSES:
        parent: dict = {}

        def find(c):
            while parent.get(c, c) != c:
                c = parent[c]
            return c

        def join(a, b):
            ra, rb = find(a), find(b)
            parent.setdefault(rb, rb)
            if ra != rb:
                parent[ra] = rb

        for code in range(0x30000):
            c = chr(code)
            for other in (c.lower(), c.upper(), c.casefold()):
                if len(other) == 1 and other != c:
                    join(c, other)
        join("\u0130", "i")  # dotted capital I lower-cases to two characters
        classes: dict = {}
        for c in list(parent):
            classes.setdefault(find(c), set()).add(c)
        for members in classes.values():
            for c in members:
                _CASE_CLASSES[c] = members
    return _CASE_CLASSES.get(char, {char})


def _prefix_ranges(prefix: str, ignore_case: bool) -> list[tuple[str, str]]:
    """[low, high) ranges holding every string that starts with ``prefix`` (in any
    case when ``ignore_case``: the case variants of its first three characters; the
    exact test checks the rest). Empty when there would be too many."""
    head = prefix[:3] if ignore_case else prefix
    starts = [""]
    for char in head:
        variants = _case_variants(char) if ignore_case else {char}
        starts = [start + v for start in starts for v in sorted(variants)]
        if len(starts) > 64:
            return []
    return [(start, start[:-1] + chr(ord(start[-1]) + 1)) for start in starts]


def _prefix_arm(collection, field: str, cond) -> tuple[str, list] | None:
    """SQL for "``field`` may match ``cond``": ranges on the field (which use its
    index) for a literal prefix regex or a string equality; arrays always pass (their
    elements are tested exactly afterwards)."""
    from neosqlite.collection.json_path_utils import parse_json_path

    if not _FIELD_NAME.fullmatch(field) or field == "_id":  # _id has its own column
        return None
    extract = f"{collection.query_engine.helpers.jsonb.json_function_prefix}_extract(data, '{parse_json_path(field)}')"
    array = f"json_type(data, '{parse_json_path(field)}') = 'array'"
    prefix = _literal_prefix(cond)
    if prefix is not None:
        ranges = _prefix_ranges(prefix, "i" in (cond.get("$options") or ""))
        if not ranges:
            return None
        arms = " OR ".join(f"({extract} >= ? AND {extract} < ?)" for _ in ranges)
        return f"({arms} OR {array})", [bound for pair in ranges for bound in pair]
    if isinstance(cond, str):
        return f"({extract} = ? OR {array})", [cond]
    return None


def _stored_reference(hex_id: str) -> str:
    return f'{{"__neosqlite_objectid__":true,"id":"{hex_id}"}}'


def check_stored_reference() -> None:
    """_reference_arm writes the JSON text neosqlite stores for an ObjectId by hand: fail at
    start-up, not with silently empty answers, if neosqlite ever stores it otherwise."""
    import sqlite3

    from bson import ObjectId
    from neosqlite.collection.json_helpers import neosqlite_json_dumps
    from nx_27017.utils import convert_bson_to_neo_objectids

    oid = ObjectId()  # as the wire handler converts it, then as an insert serialises it
    document = neosqlite_json_dumps(convert_bson_to_neo_objectids({"r": oid}))
    stored = sqlite3.connect(":memory:").execute("SELECT json_extract(?, '$.r')", (document,)).fetchone()[0]
    if stored != _stored_reference(str(oid)):
        raise RuntimeError(f"neosqlite changed how it stores an ObjectId ({stored!r}): fix _reference_arm")


def _reference_arm(collection, field: str, cond) -> tuple[str, list] | None:
    """SQL for "``field`` may hold one of these ObjectIds" (``{field: id}`` or
    ``{field: {"$in": [ids]}}``): neosqlite stores an ObjectId as the JSON object
    ``{"__neosqlite_objectid__":true,"id":"<hex>"}``, which is what ``json_extract`` (and
    so the field's index) holds, and what ``json_each`` yields for an array element."""
    from neosqlite.collection.json_path_utils import parse_json_path

    from devstack import mongo_match

    if (
        not _FIELD_NAME.fullmatch(field)
        or field == "_id"
        or collection.query_engine.helpers.jsonb.json_function_prefix != "json"
    ):
        return None  # (with JSONB, json_extract returns a blob, not that text)
    if mongo_match._is_oid(cond):
        ids = [cond]
    elif isinstance(cond, dict) and list(cond) in (["$in"], ["$eq"]):
        ids = cond.get("$in", [cond.get("$eq")])
        if not isinstance(ids, list) or not ids or not all(mongo_match._is_oid(item) for item in ids):
            return None
    else:
        return None
    texts = [_stored_reference(_hex_of(item)) for item in ids]
    path = parse_json_path(field)
    extract = f"{collection.query_engine.helpers.jsonb.json_function_prefix}_extract(data, '{path}')"
    marks = ", ".join("?" for _ in texts)
    return (
        f"({extract} IN ({marks}) OR (json_type(data, '{path}') = 'array' AND EXISTS "
        f"(SELECT 1 FROM json_each(data, '{path}') WHERE json_each.value IN ({marks}))))",
        [*texts, *texts],
    )


def _hex_of(object_id) -> str:
    if isinstance(object_id, tuple):  # ("$oid", hex) as mongo_match canonicalises it
        return object_id[1]
    return str(object_id)


def _prefix_conditions(collection, query: dict) -> tuple[str, list]:
    """Extra SQL pre-selection for the anchored prefix searches of ``query`` (top level,
    in ``$and``, or a ``$or`` made only of them): a superset of the matches."""
    clauses, params = [], []

    def visit(part: dict) -> None:
        for key, cond in part.items():
            if key == "$and" and isinstance(cond, list):
                for sub in cond:
                    if isinstance(sub, dict):
                        visit(sub)
            elif key == "$or" and isinstance(cond, list) and cond:
                arms = [
                    _prefix_arm(collection, *next(iter(arm.items())))
                    if isinstance(arm, dict) and len(arm) == 1
                    else None
                    for arm in cond
                ]
                if all(arms) and any(_literal_prefix(next(iter(arm.values()))) is not None for arm in cond):
                    clauses.append("(" + " OR ".join(sql for sql, _ in arms) + ")")
                    params.extend(value for _, values in arms for value in values)
            elif not key.startswith("$"):
                arm = (
                    _prefix_arm(collection, key, cond)
                    if _literal_prefix(cond) is not None
                    else _reference_arm(collection, key, cond)
                )
                if arm:
                    clauses.append(arm[0])
                    params.extend(arm[1])

    visit(query)
    return " AND ".join(clauses), params


def _top_fields(query) -> set | None:
    """The top-level fields ``query`` reads, or None when one cannot be extracted
    by a plain JSON path (the whole document is decoded then)."""
    fields: set = set()
    for key, cond in query.items():
        if key in ("$and", "$or", "$nor"):
            for part in cond:
                found = _top_fields(part) if isinstance(part, dict) else None
                if found is None:
                    return None
                fields |= found
        elif key.startswith("$"):
            return None
        else:
            top = key.split(".", 1)[0]
            if not _FIELD_NAME.fullmatch(top):
                return None
            fields.add(top)
    return fields


def field_columns(fields: list) -> str:
    """SQL columns reading ``fields`` of a stored document: (json_type, json_extract) each."""
    return ", ".join(f"json_type(data, '$.{f}'), json_extract(data, '$.{f}')" for f in fields)


def partial_document(fields: list, values, loads=None) -> dict:
    """The stored document reduced to ``fields``, from the ``field_columns`` of a row;
    objects and arrays decoded by ``loads`` (default plain ``json.loads``: ObjectIds and
    dates stay in their stored JSON form, which mongo_match understands)."""
    import json

    loads = loads or json.loads
    doc = {}
    for i, field in enumerate(fields):
        kind, value = values[2 * i], values[2 * i + 1]
        if kind is None:
            continue  # missing
        if kind in ("true", "false"):
            doc[field] = kind == "true"
        elif kind in ("object", "array"):
            doc[field] = loads(value)
        else:
            doc[field] = value  # null -> None, numbers, text
    return doc


_MISSING_ID = object()


def _holds_object_id(value) -> bool:
    from devstack import mongo_match

    if isinstance(value, dict):
        return "_id" in value or any(_holds_object_id(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_object_id(item) for item in value)
    return mongo_match._is_oid(value)


def _exact_page(db, coll_name: str, body: dict) -> list | None:
    """The ids of one page of a find sorted by ``_id`` (with a limit), from SQL alone
    when it decides the filter; else None. The ``_id`` column holds an ObjectId as its
    hex, whose order is the ObjectId's: used only when every id in the collection is
    24 characters long (no other type of id to order against)."""
    query, sort, limit = body.get("filter"), body.get("sort"), body.get("limit")
    if not limit or not isinstance(sort, dict) or list(sort) != ["_id"] or sort["_id"] not in (1, -1):
        return None
    decided = _decided_by_sql(db, coll_name, query)
    if decided is None:
        return None
    collection, where, params = decided
    name = collection.name
    if collection.db.execute(
        f'SELECT 1 FROM "{name}" WHERE length(_id) != 24 OR _id IS NULL LIMIT 1'
    ).fetchone():
        return None
    order = "ASC" if sort["_id"] == 1 else "DESC"
    rows = collection.db.execute(
        f'SELECT id, _id FROM "{name}" WHERE {where} ORDER BY _id {order} LIMIT ?',
        [*params, (body.get("skip") or 0) + abs(limit)],
    )
    return [collection._resolve_stored_id(stored, rowid) for rowid, stored in rows]


def _needs_narrowing(query) -> bool:
    """Whether the exact matcher narrows ``query`` (rather than neosqlite evaluating it)."""
    from devstack import mongo_match

    # (neosqlite answers datetime conditions in its Python tier over every document,
    # comparing a $in list with each, and finds ObjectIds outside _id by scanning
    # json_each of every document: those filters are narrowed too)
    return (
        isinstance(query, dict)
        and mongo_match.supported(query)
        and not (
            mongo_match.is_fast_safe(query) and not _holds_datetime(query) and not _holds_reference(query)
        )
    )


def _decided_by_sql(db, coll_name: str, query) -> tuple | None:
    """(collection, where, params) when ``query`` needs narrowing and SQL alone decides
    it (see _exact_where), else None."""
    if not _needs_narrowing(query) or not _collection_exists(db, coll_name):
        return None
    from nx_27017.utils import convert_bson_to_neo_objectids

    collection = db[coll_name]
    exact = _exact_where(collection, convert_bson_to_neo_objectids(query))
    if exact is None or "data" not in _table_columns(collection):
        return None
    return (collection, *exact)


def _exact_count(db, coll_name: str, pipeline: list) -> int | None:
    """count_documents' number straight from SQL, when the exact matcher would narrow
    its filter and SQL alone decides it (no list of ids needed); else None."""
    decided = _decided_by_sql(db, coll_name, pipeline[0]["$match"])
    if decided is None:
        return None
    collection, where, params = decided
    return collection.db.execute(
        f'SELECT COUNT(id) FROM "{collection.name}" WHERE {where}', params
    ).fetchone()[0]


def _holds_reference(query: dict) -> bool:
    """Whether ``query`` holds an ObjectId in a condition on a field other than ``_id``."""
    for key, cond in query.items():
        if key in ("$and", "$or", "$nor") and isinstance(cond, list):
            if any(isinstance(part, dict) and _holds_reference(part) for part in cond):
                return True
        elif key != "_id" and _holds_object_id(cond):
            return True
    return False


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
    superset of the matches, so only those documents need the exact test.

    It is one flat ``{field: condition}`` document: the safe field conditions of
    the query and of every ``$and`` nested in it (``{"$and": [{"$and": [rule,
    {"erased": {"$ne": true}}]}, {"_id": {"$in": [...]}}]}`` keeps the rule's plain
    fields and the ``_id``). neosqlite's SQL tier handles that shape with the
    declared indexes, while a ``$and`` in the pre-filter sent it to its Python tier,
    which loads every document. A field met twice keeps its first condition: the
    pre-filter only has to hold a superset."""
    flat: dict = {}
    _collect_safe(query, flat)
    return flat


def _collect_safe(query: dict, flat: dict) -> None:
    from devstack import mongo_match

    for key, cond in query.items():
        if key == "$and" and isinstance(cond, list):
            for part in cond:
                if isinstance(part, dict):
                    _collect_safe(part, flat)
        elif (
            not key.startswith("$")
            and key not in flat
            and mongo_match.is_fast_safe({key: cond})
            and (key == "_id" or not _holds_object_id(cond))
            and not _holds_datetime(cond)
        ):
            # (neosqlite's SQL misses ObjectIds inside arrays and compares datetimes as
            # text: such conditions are pre-selected by _reference_arm or left to the exact test)
            flat[key] = cond


def _resolve_statements(db, coll_name, statements):
    if not isinstance(statements, list):
        return statements
    return [
        {**st, "q": _resolve_filter(db, coll_name, st.get("q"), bool(st.get("upsert")))}
        if isinstance(st, dict)
        else st
        for st in statements
    ]


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
            page = _exact_page(db, coll_name, data) if name == "find" else None
            for key in _RESOLVED_FILTERS.get(name, ()):
                if key in data and page is None:
                    data[key] = _resolve_filter(db, coll_name, data[key], bool(data.get("upsert")))
            if page is not None:
                data["filter"] = {"_id": {"$in": page or [_NO_ID]}}
            elif name == "find" and data.get("filter") is not body.get("filter"):
                data["filter"] = _first_by_id(
                    data["filter"], data.get("sort"), data.get("skip"), data.get("limit")
                )
            for key in _STATEMENT_LISTS:
                if key in data:
                    data[key] = _resolve_statements(db, coll_name, data[key])
            pipeline = data.get("pipeline")
            if (
                name == "aggregate"
                and isinstance(pipeline, list)
                and pipeline
                and isinstance(pipeline[0], dict)
                and "$match" in pipeline[0]
            ):
                counted = (
                    _exact_count(db, coll_name, pipeline) if is_count_shape(pipeline, safe=False) else None
                )
                resolved = (
                    pipeline[0]["$match"]
                    if counted is not None
                    else _resolve_filter(db, coll_name, pipeline[0]["$match"])
                )
                if counted is not None:
                    data["pipeline"] = [
                        {"$match": {"_id": {"$in": [_NO_ID]}}},
                        {COUNTED: counted},
                        *pipeline[1:],
                    ]
                elif resolved is not pipeline[0]["$match"] and is_count_shape(pipeline, safe=False):
                    # count_documents: the number is all it needs (see mongo_fixes_aggregate)
                    data["pipeline"] = [
                        {"$match": {"_id": {"$in": [_NO_ID]}}},
                        {COUNTED: len(resolved["_id"]["$in"]) if resolved["_id"]["$in"] != [_NO_ID] else 0},
                        *pipeline[1:],
                    ]
                else:
                    data["pipeline"] = [{"$match": resolved}, *pipeline[1:]]
        elif kind == "payload" and isinstance(data, dict):
            data = {
                key: (_resolve_statements(db, coll_name, docs) if key in _STATEMENT_LISTS else docs)
                for key, docs in data.items()
            }
        fixed.append((kind, data))
    return fixed


def install_exact_matching() -> None:
    from nx_27017.handler import NeoSQLiteHandler, _msg_db_name

    check_stored_reference()

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

    def find_one_and_update(
        self,
        filter,
        update,
        projection=None,
        sort=None,
        upsert=False,
        return_document=False,
        array_filters=None,
        session=None,
        **kwargs,
    ):
        if upsert and self.find_one(copy.deepcopy(filter), session=session) is None:
            result = self.update_one(filter, update, upsert=True, session=session)
            if return_document and result.upserted_id is not None:
                return self.find_one({"_id": result.upserted_id}, projection, session=session)
            return None
        return original_faup(
            self, filter, update, projection, sort, upsert, return_document, array_filters, session, **kwargs
        )

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
            kept = (
                {k: v for k, v in spec.items() if k not in dotted.get(op, {})}
                if isinstance(spec, dict)
                else spec
            )
            if kept:
                rest[op] = kept
        doc = (
            original(self, 0, rest, original_doc, array_filters, query_filter)[0]
            if rest
            else copy.deepcopy(original_doc)
        )
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
                (neosqlite_json_dumps(doc), self._get_integer_id_for_oid(doc_id)),
            )
        return doc, doc != original_doc

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
    return {
        "ok": 0,
        "errmsg": detail["errmsg"],
        "code": detail["code"],
        "codeName": "DuplicateKey" if detail["code"] == 11000 else "InternalError",
    }
