"""``python -m services.campaigns api|worker|scheduler``: run one part of the campaigns service."""

from services.campaigns.settings import load
from shared.entry import build_worker, main, run_api, run_worker


def api(settings, _argv):
    from services.campaigns.app import create_app

    run_api(create_app, settings)


def worker(settings, _argv):
    from services.campaigns.consumers import handlers
    from services.campaigns.models import DOCUMENTS
    from services.campaigns.publishing import Announcer
    from shared.documents import prepare_store

    prepare_store(settings.mongo_uri, *DOCUMENTS)
    announcer = Announcer(settings.amqp_url, settings.broker_namespace)
    run_worker(
        build_worker(settings, handlers(settings, announcer), name="campaigns", on_idle=announcer.relay)
    )


def scheduler(settings, _argv):
    from services.campaigns.models import DOCUMENTS
    from services.campaigns.scheduler import run_forever
    from shared.documents import prepare_store

    prepare_store(settings.mongo_uri, *DOCUMENTS)
    run_forever(settings)


if __name__ == "__main__":
    main("campaigns", load, {"api": api, "worker": worker, "scheduler": scheduler})
