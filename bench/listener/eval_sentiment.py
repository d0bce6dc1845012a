"""Evaluate the sentiment model on the labelled sets, and count community
managers' corrections kept in the store.

    .venv/bin/python -m bench.listener.eval_sentiment [--set PATH] [--store-uri mongodb://.../db]
        [--errors dev|test|all] [--model PATH|lexicon] [--public PATH[:FORMAT[:LANG]] ...]

Prints accuracy, macro-F1 and recall per class, per language, for the dev part of
the project's own set (the model is trained on it), the held-out test part and
everything, and for each public labelled set given by path (read at run time, never
committed; formats and sources in bench/listener/README.md). --model scores with a
model file instead of the one in use, or with the lexicon engine alone. With
--store-uri it also reads the mentions collection: how many mentions were
corrected, per language and label change, and how often the engine agreed with
the correction (a live, growing evaluation set).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.listener.sentiment import LABELS  # noqa: E402
from services.listener.sentiment.metrics import accuracy, macro_f1, recall  # noqa: E402

DEFAULT_SET = ROOT / "services/listener/sentiment/eval_set.jsonl"


def scorer(which: str | None = None):
    """score(text, lang) -> label: the model in use, a model file, or the lexicon engine."""
    if which == "lexicon":
        from services.listener.sentiment.engine import score as lexicon

        return lambda text, lang: lexicon(text, lang).label
    if which:
        from services.listener.sentiment.model import Model

        model = Model.load(Path(which))
        return lambda text, lang: model.score(text, lang).label
    from services.listener.sentiment import score

    return lambda text, lang: score(text, lang).label


def figures(pairs) -> dict:
    return {
        "n": len(pairs),
        "accuracy": round(accuracy(pairs), 3),
        "macro_f1": round(macro_f1(pairs), 3),
        **{f"recall_{label}": round(recall(pairs, label), 3) for label in LABELS},
    }


def evaluate(rows: list[dict], score=None, splits=("dev", "test", "all")) -> dict:
    """{lang: {split: {"n", "accuracy", "macro_f1", "recall_<label>"...}}}; rows get "got"."""
    score = score or scorer()
    results: dict = {}
    for row in rows:
        row["got"] = score(row["text"], row["lang"])
    for lang in sorted({row["lang"] for row in rows}):
        results[lang] = {}
        for split in splits:
            pairs = [
                (r["label"], r["got"])
                for r in rows
                if r["lang"] == lang and (split == "all" or r.get("split") == split)
            ]
            results[lang][split] = figures(pairs)
    return results


def read_public(spec: str) -> tuple[str, list[dict]]:
    """``PATH[:FORMAT[:LANG]]``. FORMAT jsonl (text, lang, label; the default), tsv
    (label<TAB>text, LANG required) or vader (id<TAB>mean rating -4..4<TAB>text, the
    ground-truth files shipped in the vaderSentiment sdist: >= 0.5 positive,
    <= -0.5 negative, else neutral; LANG en)."""
    path, _, rest = spec.partition(":")
    fmt, _, lang = rest.partition(":")
    fmt = fmt or "jsonl"
    text = Path(path).read_bytes().decode("utf-8", errors="replace")
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if fmt == "jsonl":
            row = json.loads(line)
            rows.append({"text": row["text"], "lang": row.get("lang") or lang, "label": row["label"]})
        elif fmt == "tsv":
            label, _, body = line.partition("\t")
            rows.append({"text": body, "lang": lang, "label": label.strip().lower()})
        elif fmt == "vader":
            _, mean, body = line.split("\t", 2)
            value = float(mean)
            rows.append(
                {
                    "text": body,
                    "lang": lang or "en",
                    "label": "positive" if value >= 0.5 else "negative" if value <= -0.5 else "neutral",
                }
            )
        else:
            raise SystemExit(f"unknown format {fmt!r}: jsonl, tsv or vader")
    bad = [r for r in rows if r["label"] not in LABELS or r["lang"] not in ("es", "en")]
    if bad:
        raise SystemExit(f"{path}: {len(bad)} rows without lang es|en or a label in {LABELS}, e.g. {bad[0]}")
    return path, rows


def print_table(results: dict, heading: str) -> None:
    print(heading)
    print(
        f"{'lang':<5}{'split':<6}{'n':>6}{'accuracy':>10}{'macro-F1':>10}{'rec-neg':>9}{'rec-neu':>9}{'rec-pos':>9}"
    )
    for lang, splits in results.items():
        for split, f in splits.items():
            print(
                f"{lang:<5}{split:<6}{f['n']:>6}{f['accuracy']:>10.3f}{f['macro_f1']:>10.3f}"
                f"{f['recall_negative']:>9.3f}{f['recall_neutral']:>9.3f}{f['recall_positive']:>9.3f}"
            )


def corrections(store_uri: str) -> dict:
    """Corrections kept on mentions: counts and the engine's agreement with them."""
    from pymongo import MongoClient

    from shared.store import database_name

    client = MongoClient(store_uri, serverSelectionTimeoutMS=5000)
    try:
        mentions = client[database_name(store_uri)]["mentions"]
        out: dict = {"total": 0, "by_lang": {}, "changes": Counter(), "engine_agreed": 0}
        for doc in mentions.find({"correction": {"$exists": True}}, {"lang": 1, "label": 1, "correction": 1}):
            correction = doc["correction"]
            out["total"] += 1
            out["by_lang"][doc.get("lang", "und")] = out["by_lang"].get(doc.get("lang", "und"), 0) + 1
            before = correction.get("previous_label") or doc.get("label")
            out["changes"][f"{before}->{correction.get('label')}"] += 1
            if before == correction.get("label"):
                out["engine_agreed"] += 1
        out["changes"] = dict(out["changes"])
        return out
    finally:
        client.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default=str(DEFAULT_SET))
    parser.add_argument("--store-uri", help="MongoDB URI with database: also count stored corrections")
    parser.add_argument("--errors", choices=("dev", "test", "all"), help="print the misclassified posts")
    parser.add_argument("--model", help="a model JSON file, or 'lexicon' (default: the model in use)")
    parser.add_argument(
        "--public",
        action="append",
        default=[],
        metavar="PATH[:FORMAT[:LANG]]",
        help="a public labelled set read at run time (repeatable)",
    )
    args = parser.parse_args(argv)
    score = scorer(args.model)
    if not args.model:
        from services.listener.sentiment.model import registry

        args.model = registry.current().version
    rows = [
        json.loads(line) for line in Path(args.set).read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    results = evaluate(rows, score)
    print(f"model: {args.model}; python {platform.python_version()}")
    print_table(results, f"own set: {args.set} ({len(rows)} posts; the model trains on split dev)")
    for spec in args.public:
        path, public = read_public(spec)
        print_table(evaluate(public, score, splits=("all",)), f"public set: {path} ({len(public)} posts)")
    if args.errors:
        for row in rows:
            if row["got"] != row["label"] and (args.errors == "all" or row.get("split") == args.errors):
                print(f"  [{row['lang']} {row['label']}->{row['got']}] {row['text']}")
    if args.store_uri:
        found = corrections(args.store_uri)
        print(
            f"corrections in the store: {found['total']} (by language {found['by_lang']}); "
            f"label changes {found['changes']}; engine already agreed on {found['engine_agreed']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
