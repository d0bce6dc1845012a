"""``python -m services.campaigns api|worker``: run one part of the campaigns service."""

from shared.entry import main, run_api

from services.campaigns.settings import load


def api(settings, _argv):
    from services.campaigns.app import create_app

    run_api(create_app, settings)


if __name__ == "__main__":
    main("campaigns", load, {"api": api})
