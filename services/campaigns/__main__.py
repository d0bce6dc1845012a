"""``python -m services.campaigns api|worker|scheduler``: run one part of the campaigns service.

Each part builds its parts once through ``services.campaigns.bootstrap``."""

from services.campaigns.settings import load
from shared.entry import build_worker, main, run_api, run_worker


def api(settings, _argv):
    from services.campaigns.app import create_app

    run_api(create_app, settings)  # create_app builds through bootstrap.build


def worker(settings, _argv):
    from services.campaigns import bootstrap
    from services.campaigns.consumers import handlers

    parts = bootstrap.build(settings)
    parts.prepare_store()
    try:
        run_worker(build_worker(settings, handlers(parts), name="campaigns", on_idle=parts.outbox.relay))
    finally:
        parts.close()


def scheduler(settings, _argv):
    from services.campaigns import bootstrap
    from services.campaigns.scheduler import run_forever

    parts = bootstrap.build(settings)
    parts.prepare_store()
    try:
        run_forever(parts)
    finally:
        parts.close()


if __name__ == "__main__":
    main("campaigns", load, {"api": api, "worker": worker, "scheduler": scheduler})
