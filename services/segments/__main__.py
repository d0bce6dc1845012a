"""``python -m services.segments api|worker``: run one part of the segments service."""

from shared.entry import build_worker, main, run_api, run_worker

from services.segments.settings import load


def api(settings, _argv):
    from services.segments.app import create_app

    run_api(create_app, settings)


def worker(settings, _argv):
    from shared import store

    from services.segments.consumers import handlers

    store.prepare(settings.mongo_uri)
    run_worker(build_worker(settings, handlers(), name="segments"))


if __name__ == "__main__":
    main("segments", load, {"api": api, "worker": worker})
