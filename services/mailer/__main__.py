"""``python -m services.mailer api|worker``: run one part of the mailer service;
``forget-erased``: take erased customers' data out of the mailer's collections (once, for
those erased before the worker did it on ``customer.erased``)."""

from services.mailer.settings import load
from shared.entry import build_worker, main, run_api, run_worker


def api(settings, _argv):
    from services.mailer.app import create_app

    run_api(create_app, settings)


def worker(settings, _argv):
    """Consume send.requested; between messages, sweep due deferred and abandoned deliveries."""
    from services.mailer.bootstrap import build
    from services.mailer.consumers import handlers

    parts = build(settings)
    parts.prepare_store()
    sender = parts.sender
    consumer = build_worker(settings, handlers(sender), name="mailer", on_idle=sender.sweep)
    consumer.idle_every = settings.idle_every
    try:
        run_worker(consumer)
    finally:
        parts.close()


def forget_erased(settings, _argv):
    from services.mailer import erasure
    from services.mailer.bootstrap import build

    parts = build(settings)
    parts.prepare_store()
    try:
        done = erasure.forget_all_erased()
    finally:
        parts.close()
    print(f"{done} erased customers: no address, reason or IP of theirs left in the mailer")


if __name__ == "__main__":
    main("mailer", load, {"api": api, "worker": worker}, commands={"forget-erased": forget_erased})
