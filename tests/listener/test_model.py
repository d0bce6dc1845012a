"""The sentiment model: loads with no network, learns from community managers'
corrections only through a versioned retrain, and every mention records the version
that scored it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.listener.announce import BatchPublisher
from services.listener.models import ListeningQuery, Mention
from services.listener.pipeline import Pipeline
from services.listener.sentiment import score
from services.listener.sentiment.model import Model, registry
from services.listener.sources.base import Post

ROOT = Path(__file__).resolve().parents[2]
# Negative only for who knows the brand (its customers hate the new recipe): the shipped
# model reads it as neutral, a community manager corrects it.
POST = "La tarta de Luna tiene mucha canela esta semana"

NO_NETWORK = """
import socket, sys
def refuse(*args, **kwargs):
    raise OSError("network use while loading the sentiment model")
socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from services.listener.sentiment import score
result = score("Iberia perdió mi maleta", "es")
print(result.label, result.model)
"""


def test_the_model_loads_and_scores_with_no_network():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HTTP", "HTTPS", "HF_", "VINCULO_MONGO"))}
    done = subprocess.run(
        [sys.executable, "-c", NO_NETWORK], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    label, version = done.stdout.split()
    assert label == "negative" and version == Model.load().version


@pytest.mark.parametrize(
    "text, lang",
    [
        ("Iberia perdió mi maleta", "es"),
        ("NUNCA NUNCA NUNCA pidáis el café de Ryanair. Bueno, nada que vendan a bordo.", "es"),
        ("Tercera vez que llamo y me cuelgan", "es"),
        ("sigo esperando el reembolso", "es"),
        ("Charged twice and still no refund", "en"),
        ("lost my bag. Again.", "en"),
    ],
)
def test_complaints_without_sentiment_words_are_negative(text, lang):
    assert score(text, lang).label == "negative", score(text, lang)


def ingest(service_env, query, post_id: str, text: str):
    publisher = BatchPublisher(service_env.amqp_url, service_env.topology)
    try:
        Pipeline(publisher).ingest(
            query,
            [Post(source="x", post_id=post_id, text=text, author_handle="ana", posted_at=None)],
            server_matched=False,
        )
    finally:
        publisher.close()
    return Mention.objects(post_id=post_id).first()


def test_a_correction_changes_the_next_retrain_and_only_an_activation_changes_the_model(
    api, service_env, listener_settings
):
    from services.listener import retrain

    shipped = Model.load()
    registry.refresh()
    assert registry.current().version == shipped.version
    query = ListeningQuery(name="luna", keywords=["luna"], sources=["x"]).save()
    mention = ingest(service_env, query, "1", POST)
    assert mention.model_version == shipped.version
    assert mention.label != "negative", "pick a post the shipped model misreads"

    answer = api("post", f"/mentions/{mention.id}/sentiment", json={"label": "negative", "by": "marta"})
    assert answer.status_code == 200 and answer.json["model_version"] == shipped.version

    report = io.StringIO()
    stored = retrain.retrain(out=report)
    new = Model(stored["model"])
    assert new.version != shipped.version and stored["trained"]["corrections"] == 1
    assert new.score(POST, "es").label == "negative"
    assert shipped.score(POST, "es").label != "negative"
    assert "corrections" in report.getvalue() and "held_out" in report.getvalue()
    assert stored["evaluation"]["corrections"]["new"]["es"]["accuracy"] == 1.0
    assert stored["evaluation"]["corrections"]["previous"]["es"]["accuracy"] == 0.0

    assert retrain.retrain(out=io.StringIO())["version"] not in (
        new.version,
        shipped.version,
    )  # a new one each time

    # Stored, not in use: nothing changes until someone activates it.
    registry.refresh()
    assert registry.current().version == shipped.version
    assert ingest(service_env, query, "2", POST + " (2)").model_version == shipped.version

    retrain.activate_version(new.version, out=io.StringIO())
    again = ingest(service_env, query, "3", POST + " 3")
    assert again.model_version == new.version and again.label == "negative"
    assert api("get", f"/mentions/{again.id}").json["model_version"] == new.version
    retrain.activate_version("shipped", out=io.StringIO())
    assert registry.current().version == shipped.version


def test_each_language_is_fitted_on_its_own_posts():
    """A set in one language (a large public English set, English corrections) leaves
    the other language's weights as they were: the classes are balanced per language."""
    from services.listener.sentiment import train
    from services.listener.sentiment.features import BASE

    rows, weights = train.shipped_training()
    english = [
        {"text": f"parcel {n} arrived crushed and nobody answers", "lang": "en", "label": "negative"}
        for n in range(30)
    ]
    before = train.fit(rows, weights)
    after = train.fit(rows + english, weights + [1.0] * len(english))
    spanish = slice(0, len(BASE))
    assert [row[spanish] for row in after["dense"]] == [row[spanish] for row in before["dense"]]
    assert after["words"]["es"] == before["words"]["es"]
    assert after["words"]["en"] != before["words"]["en"]
    assert Model(after).score("parcel 7 arrived crushed", "en").label == "negative"


def test_the_public_spanish_set_is_split_in_fixed_disjoint_halves(tmp_path):
    import json

    from bench.listener import public_sets

    klasses = ["P", "N", "NEU", "NONE", "P", "N"]
    source = tmp_path / "tweets.json"
    source.write_text(
        "".join(json.dumps({"text": f"post {n}", "klass": k}) + "\n" for n, k in enumerate(klasses)),
        encoding="utf-8",
    )
    public_sets.evomsa(source, tmp_path)

    def read(name):
        return [json.loads(line) for line in (tmp_path / name).read_text(encoding="utf-8").splitlines()]

    whole, train, held = (
        read("evomsa_es_all.jsonl"),
        read("evomsa_es_train.jsonl"),
        read("evomsa_es_eval.jsonl"),
    )
    assert [r["label"] for r in whole] == [
        "positive",
        "negative",
        "neutral",
        "neutral",
        "positive",
        "negative",
    ]
    assert {r["lang"] for r in whole} == {"es"}
    assert [r["text"] for r in train] == ["post 0", "post 2", "post 4"]
    assert [r["text"] for r in held] == ["post 1", "post 3", "post 5"]
