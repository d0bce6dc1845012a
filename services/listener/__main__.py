"""``python -m services.listener api|poller|stream``: run one part of the listener service;
``retrain`` and ``model list|activate VERSION``: the sentiment model's versions.
Every part builds through the composition root (``bootstrap.build``)."""

from services.listener.settings import load
from shared.entry import main, run_api


def api(settings, _argv):
    from services.listener.app import create_app

    run_api(create_app, settings)


def poller(settings, _argv):
    from services.listener.bootstrap import build
    from services.listener.poller import main as run_poller

    run_poller(build(settings))


def stream(settings, _argv):
    from services.listener.bootstrap import build
    from services.listener.stream import main as run_stream

    run_stream(build(settings))


def retrain(settings, argv):
    from services.listener.bootstrap import build
    from services.listener.retrain import main as run_retrain

    parts = build(settings)
    try:
        run_retrain(parts, argv)
    finally:
        parts.close()


def model(settings, argv):
    from services.listener.bootstrap import build
    from services.listener.retrain import model_main

    parts = build(settings)
    try:
        model_main(parts, argv)
    finally:
        parts.close()


if __name__ == "__main__":
    main(
        "listener",
        load,
        {"api": api, "poller": poller, "stream": stream},
        commands={"retrain": retrain, "model": model},
    )
