"""Community managers' corrections become training data.

    python -m services.listener retrain [--activate] [--extra PATH ...]
    python -m services.listener model list | activate VERSION | shipped

``retrain`` fits a new model from the shipped training data (the own set's training
part, and any --extra labelled JSONL) plus every corrected mention in the store
(the correction's label, weighted train.CORRECTION_WEIGHT), evaluates it beside the
model in use on the own set's held-out part and on the corrections, and stores it
as a new version in ``sentiment_models``. It is used only when activated (here with
--activate, or later with ``model activate``): a model never changes silently, and
each mention keeps the version that scored it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.listener import store
from services.listener.sentiment import train
from services.listener.sentiment.metrics import accuracy, macro_f1, recall
from services.listener.sentiment.model import Model, registry
from shared.store import utcnow


def corrected_posts() -> list[dict]:
    """Corrected mentions in es/en with their text: {text, lang, label, mention_id}."""
    rows = []
    for doc in store.corrected_mentions():
        label = (doc.get("correction") or {}).get("label")
        if doc.get("text") and doc.get("lang") in ("es", "en") and label in train.LABELS:
            rows.append(
                {"text": doc["text"], "lang": doc["lang"], "label": label, "mention_id": str(doc["_id"])}
            )
    return rows


def figures(model: Model, rows: list[dict]) -> dict:
    """Per language: n, accuracy, macro-F1, negative recall of ``model`` on ``rows``."""
    out = {}
    for lang in ("es", "en"):
        pairs = [(r["label"], model.score(r["text"], lang).label) for r in rows if r["lang"] == lang]
        if pairs:
            out[lang] = {
                "n": len(pairs),
                "accuracy": round(accuracy(pairs), 3),
                "macro_f1": round(macro_f1(pairs), 3),
                "negative_recall": round(recall(pairs, "negative"), 3),
            }
    return out


def retrain(extra: list[Path] | None = None, activate: bool = False, out=sys.stdout) -> dict:
    """Fit, evaluate and store a new version; returns its stored document."""
    base, base_weights = train.shipped_training(extra)
    corrections = corrected_posts()
    rows = base + corrections
    weights = base_weights + [train.CORRECTION_WEIGHT] * len(corrections)
    data = train.fit(
        rows,
        weights,
        base="cm",
        notes={
            "corrections": len(corrections),
            "sources": ["eval_set.jsonl split dev", *(p.name for p in extra or []), "corrections"],
        },
    )
    base_version, n = data["version"], 1
    while store.model_version_taken(data["version"]):  # same data, same minute
        n += 1
        data["version"] = f"{base_version}-{n}"
    new = Model(data)
    registry.refresh()
    old = registry.current()
    held_out = train.own_rows("test")
    evaluation = {
        "held_out": {"previous": figures(old, held_out), "new": figures(new, held_out)},
        "corrections": {"previous": figures(old, corrections), "new": figures(new, corrections)},
    }
    now = utcnow()
    doc = {
        "version": new.version,
        "created_at": now,
        "active": False,
        "previous": old.version,
        "trained": data["trained"],
        "evaluation": evaluation,
        "model": data,
    }
    store.add_model(doc)
    print(
        f"model {new.version}: {len(base)} shipped posts + {len(corrections)} corrections "
        f"(previous {old.version})",
        file=out,
    )
    for part, results in evaluation.items():
        for which in ("previous", "new"):
            for lang, f in results[which].items():
                print(
                    f"  {part:<12}{which:<9}{lang}  n={f['n']:<4} accuracy {f['accuracy']:.3f}  "
                    f"macro-F1 {f['macro_f1']:.3f}  negative recall {f['negative_recall']:.3f}",
                    file=out,
                )
    if activate:
        activate_version(new.version, out=out)
        doc["active"] = True
    else:
        print(f"  not in use: `python -m services.listener model activate {new.version}` to use it", file=out)
    return doc


def activate_version(version: str, out=sys.stdout) -> None:
    if version == "shipped":
        store.use_shipped_model()
    elif not store.use_model(version):
        raise SystemExit(f"no stored sentiment model {version!r} (see `model list`)")
    registry.refresh()
    print(
        f"sentiment model in use: {registry.current().version} (running listeners switch within "
        f"30 s; each mention records the version that scored it)",
        file=out,
    )


def list_versions(out=sys.stdout) -> None:
    print(f"shipped: {registry.shipped().version}", file=out)
    for doc in store.model_versions():
        held = doc.get("evaluation", {}).get("held_out", {}).get("new", {})
        summary = ", ".join(f"{lang} macro-F1 {f['macro_f1']:.3f}" for lang, f in held.items())
        print(
            f"{'*' if doc.get('active') else ' '} {doc['version']}  {doc['created_at']:%Y-%m-%d %H:%M}  "
            f"corrections {doc.get('trained', {}).get('corrections', 0)}  {summary}",
            file=out,
        )


def main(parts, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.listener retrain")
    parser.add_argument("--activate", action="store_true", help="use the new model at once")
    parser.add_argument(
        "--extra",
        action="append",
        type=Path,
        default=[],
        help="more labelled JSONL (text, lang, label), read at run time",
    )
    args = parser.parse_args(argv)
    parts.prepare_store()
    retrain(args.extra, args.activate)


def model_main(parts, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.listener model")
    parser.add_argument("action", choices=("list", "activate"))
    parser.add_argument("version", nargs="?", help="for activate: a stored version, or 'shipped'")
    args = parser.parse_args(argv)
    parts.prepare_store()
    if args.action == "list":
        list_versions()
    elif not args.version:
        parser.error("activate needs a version")
    else:
        activate_version(args.version)
