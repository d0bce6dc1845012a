"""``python -m services.listener api|worker``: run one part of the listener service."""

from shared.entry import main, run_api

from services.listener.settings import load


def api(settings, _argv):
    from services.listener.app import create_app

    run_api(create_app, settings)


if __name__ == "__main__":
    main("listener", load, {"api": api})
