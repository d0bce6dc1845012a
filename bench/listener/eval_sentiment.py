"""Evaluate the sentiment engine on the labelled set, and count community
managers' corrections kept in the store.

    .venv/bin/python -m bench.listener.eval_sentiment [--set PATH] [--store-uri mongodb://.../db]
        [--errors dev|test|all]

Prints accuracy and macro-F1 per language, for the dev part (looked at while
tuning the lexicon), the held-out test part and everything. With --store-uri
it also reads the mentions collection: how many mentions were corrected, per
language and label change, and how often the engine agreed with the
correction (a live, growing evaluation set).
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

from services.listener.sentiment import LABELS, score  # noqa: E402

DEFAULT_SET = ROOT / "services/listener/sentiment/eval_set.jsonl"


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    scores = []
    for label in LABELS:
        tp = sum(1 for gold, got in pairs if gold == label and got == label)
        fp = sum(1 for gold, got in pairs if gold != label and got == label)
        fn = sum(1 for gold, got in pairs if gold == label and got != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def accuracy(pairs) -> float:
    return sum(1 for gold, got in pairs if gold == got) / len(pairs) if pairs else 0.0


def evaluate(rows: list[dict]) -> dict:
    """{lang: {split: {"n", "accuracy", "macro_f1"}}} plus the scored rows."""
    results: dict = {}
    for row in rows:
        row["got"] = score(row["text"], row["lang"]).label
    for lang in sorted({row["lang"] for row in rows}):
        results[lang] = {}
        for split in ("dev", "test", "all"):
            pairs = [(r["label"], r["got"]) for r in rows
                     if r["lang"] == lang and (split == "all" or r.get("split") == split)]
            results[lang][split] = {"n": len(pairs), "accuracy": round(accuracy(pairs), 3),
                                    "macro_f1": round(macro_f1(pairs), 3)}
    return results


def corrections(store_uri: str) -> dict:
    """Corrections kept on mentions: counts and the engine's agreement with them."""
    from pymongo import MongoClient

    from shared.store import database_name

    client = MongoClient(store_uri, serverSelectionTimeoutMS=5000)
    try:
        mentions = client[database_name(store_uri)]["mentions"]
        out: dict = {"total": 0, "by_lang": {}, "changes": Counter(), "engine_agreed": 0}
        for doc in mentions.find({"correction": {"$exists": True}},
                                 {"lang": 1, "label": 1, "correction": 1}):
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
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in Path(args.set).read_text(encoding="utf-8").splitlines() if line.strip()]
    results = evaluate(rows)
    print(f"evaluation set: {args.set} ({len(rows)} posts); python {platform.python_version()}")
    print(f"{'lang':<5}{'split':<6}{'n':>5}{'accuracy':>10}{'macro-F1':>10}")
    for lang, splits in results.items():
        for split, figures in splits.items():
            print(f"{lang:<5}{split:<6}{figures['n']:>5}{figures['accuracy']:>10.3f}{figures['macro_f1']:>10.3f}")
    if args.errors:
        for row in rows:
            if row["got"] != row["label"] and (args.errors == "all" or row.get("split") == args.errors):
                print(f"  [{row['lang']} {row['label']}->{row['got']}] {row['text']}")
    if args.store_uri:
        found = corrections(args.store_uri)
        print(f"corrections in the store: {found['total']} (by language {found['by_lang']}); "
              f"label changes {found['changes']}; engine already agreed on {found['engine_agreed']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
