"""``python -m services.mailer api|worker``: run one part of the mailer service."""

from shared.entry import main, run_api

from services.mailer.settings import load


def api(settings, _argv):
    from services.mailer.app import create_app

    run_api(create_app, settings)


if __name__ == "__main__":
    main("mailer", load, {"api": api})
