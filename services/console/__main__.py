"""``python -m services.console api``: run the web console."""

from shared.entry import main, run_api

from services.console.settings import load


def api(settings, _argv):
    from services.console.app import create_app

    run_api(create_app, settings)


if __name__ == "__main__":
    main("console", load, {"api": api})
