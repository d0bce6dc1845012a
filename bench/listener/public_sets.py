"""Turn the public labelled sets that the registries carry into the JSONL (text, lang,
label) that training (``--extra``) and the evaluation (``--public``) read.

    .venv/bin/python -m bench.listener.public_sets evomsa PATH/EvoMSA/tests/tweets.json OUTDIR
    .venv/bin/python -m bench.listener.public_sets vader PATH/hutto_ICWSM_2014 OUTDIR

evomsa: the 1,000 labelled Spanish tweets in the ``evomsa==2.0.14`` sdist (INGEOTEC,
Apache-2.0), labels P / N / NEU / NONE (NEU and NONE are neutral here) ->
``evomsa_es_all.jsonl`` (the shipped model never trained on it), and two fixed halves
by line for a model that trains on part of it: even lines -> ``evomsa_es_train.jsonl``,
odd lines -> ``evomsa_es_eval.jsonl``.

vader: the NYT editorial and movie review snippets of the ``vaderSentiment==3.3.2``
sdist (MIT) -> ``vader_nyt_en.jsonl``, ``vader_movies_en.jsonl`` (mean rating >= 0.5
positive, <= -0.5 negative); the tweets and Amazon snippets stay for evaluation.

The outputs are third-party texts: keep them outside the repository.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EVOMSA_LABELS = {"P": "positive", "N": "negative", "NEU": "neutral", "NONE": "neutral"}


def vader_label(mean: float) -> str:
    return "positive" if mean >= 0.5 else "negative" if mean <= -0.5 else "neutral"


def write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{path}: {len(rows)} posts")


def evomsa(source: Path, out: Path) -> None:
    rows = []
    for line in source.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows.append({"text": row["text"], "lang": "es", "label": EVOMSA_LABELS[row["klass"]]})
    write(out / "evomsa_es_all.jsonl", rows)
    write(out / "evomsa_es_train.jsonl", rows[0::2])
    write(out / "evomsa_es_eval.jsonl", rows[1::2])


def vader(folder: Path, out: Path) -> None:
    for name, target in (
        ("nytEditorialSnippets", "vader_nyt_en"),
        ("movieReviewSnippets", "vader_movies_en"),
    ):
        rows = []
        text = (folder / f"{name}_GroundTruth.txt").read_bytes().decode("utf-8", errors="replace")
        for line in text.splitlines():
            if line.strip():
                _, mean, body = line.split("\t", 2)
                rows.append({"text": body.strip(), "lang": "en", "label": vader_label(float(mean))})
        write(out / f"{target}.jsonl", rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("evomsa", "vader"))
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    (evomsa if args.kind == "evomsa" else vader)(args.source, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
