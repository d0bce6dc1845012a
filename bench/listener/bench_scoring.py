"""CPU time per post of language detection and sentiment scoring, as the pipeline calls them.

    .venv/bin/python -m bench.listener.bench_scoring [--copies 10] [--runs 5] [--cold] [--profile] [--dump PATH]

The posts are the own set (services/listener/sentiment/eval_set.jsonl) repeated
``--copies`` times, each copy with a " #i" suffix as bench_pipeline.py serves them (so
no two texts are equal). Prints the CPU time (time.process_time: all threads of the
process, so lingua's parallel detection counts in full) per post, best of ``--runs``:
a loaded machine slows wall-clock rates but barely CPU time. ``--cold`` forgets the words
the scorer remembers before each run (each post then pays as on first sight of its
words; with ``--copies 1`` only the set's own repeated words are remembered). ``--profile`` prints
cProfile's top functions of one run; ``--dump`` writes every post's score, label and
class probabilities (repr, every bit) to compare two versions of the code.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bench.common import machine  # noqa: E402

EVAL_SET = ROOT / "services/listener/sentiment/eval_set.jsonl"


def posts(copies: int) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in EVAL_SET.read_text(encoding="utf-8").splitlines()]
    texts = [f"{row['text']} #{i}" for i in range(copies) for row in rows]
    hints = [row["lang"] for _ in range(copies) for row in rows]
    return texts, hints


def best_cpu(fn, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--cold", action="store_true", help="forget the remembered words before each run (a first pass)"
    )
    parser.add_argument("--dump", type=Path)
    args = parser.parse_args(argv)

    from services.listener.sentiment import detect_many, score
    from services.listener.sentiment import model as model_module

    texts, hints = posts(args.copies)
    n = len(texts)
    langs = detect_many(texts, hints)  # warm: lingua's models, the lexicons, the model

    def detect():
        detect_many(texts, hints)

    def forget():
        from services.listener.sentiment import engine, features

        a = engine.analyzer()
        for memory in (
            getattr(a.front, "_tokens", None),
            getattr(a.front, "_keys", None),
            getattr(a, "_english_words", None),
            getattr(features, "_CRC", None),
        ):
            if memory is not None:
                memory.clear()

    def one_by_one():
        if args.cold:
            forget()
        for text, lang in zip(texts, langs):
            score(text, lang)

    one_by_one()
    if args.profile:
        for name, fn in (("detect_many", detect), ("score", one_by_one)):
            profiler = cProfile.Profile()
            profiler.runcall(fn)
            print(f"--- cProfile: {name} over {n} posts")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)

    print(f"machine: {machine()}")
    memory = "forgotten before each run" if args.cold else "remembered"
    print(f"posts: {n} (own set x {args.copies}); words {memory}; CPU time per post, best of {args.runs}:")
    d = best_cpu(detect, args.runs)
    s = best_cpu(one_by_one, args.runs)
    print(f"  detect_many: {d / n * 1e6:6.1f} µs")
    print(f"  score:       {s / n * 1e6:6.1f} µs")
    print(f"  detect + score: {(d + s) / n * 1e6:6.1f} µs")
    print(f"load average after: {os.getloadavg()[0]:.1f}")

    if args.dump:
        from services.listener.sentiment import engine

        current = model_module.registry.current()
        rows = []
        for text, lang in zip(texts, langs):
            result = score(text, lang)
            rows.append(
                {
                    "text": text,
                    "lang": lang,
                    "score": repr(result.score),
                    "label": result.label,
                    "probabilities": [repr(p) for p in current.probabilities(text, lang)],
                    "lexicon": repr(engine.analyzer().polarity(text, lang)),
                    "engine": repr(engine.score(text, lang)),
                }
            )
        args.dump.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
        print(f"dumped {len(rows)} scores to {args.dump}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
