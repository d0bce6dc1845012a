"""``python -m services.mailer api|worker``: run one part of the mailer service."""

from services.mailer.settings import load
from shared.entry import build_worker, main, run_api, run_worker


def api(settings, _argv):
    from services.mailer.app import create_app

    run_api(create_app, settings)


def worker(settings, _argv):
    """Consume send.requested; between messages, sweep due deferred and abandoned deliveries."""
    from services.mailer import render_budget
    from services.mailer.consumers import build_sender, handlers
    from services.mailer.models import DOCUMENTS
    from shared.documents import prepare_store

    prepare_store(settings.mongo_uri, *DOCUMENTS)
    render_budget.configure(render_budget.RenderBudget.from_settings(settings))
    sender = build_sender(settings)
    consumer = build_worker(settings, handlers(sender), name="mailer", on_idle=sender.sweep)
    consumer.idle_every = settings.idle_every
    try:
        run_worker(consumer)
    finally:
        sender.close()


if __name__ == "__main__":
    main("mailer", load, {"api": api, "worker": worker})
