"""``python -m services.campaigns api|worker|scheduler``: run one part of the campaigns service.
``forget-quotes``: take the provider reasons and clicked links out of the delivery facts stored
before the facts stopped keeping them (once, after upgrading; idempotent).

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


def forget_quotes(settings, _argv):
    from services.campaigns import bootstrap
    from services.campaigns.store.result_queries import forget_quotes as forget

    parts = bootstrap.build(settings)
    parts.prepare_store()
    try:
        done = forget()
    finally:
        parts.close()
    print(f"{done} delivery facts no longer quote a provider's reason or a clicked link")


if __name__ == "__main__":
    main(
        "campaigns",
        load,
        {"api": api, "worker": worker, "scheduler": scheduler},
        commands={"forget-quotes": forget_quotes},
    )
