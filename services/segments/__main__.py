"""``python -m services.segments api|worker``: run one part of the segments service."""

from services.segments.settings import load
from shared.entry import build_worker, main, run_api, run_worker


def api(settings, _argv):
    from services.segments.app import create_app

    run_api(create_app, settings)


def worker(settings, _argv):
    """Consume segments.facts and segments.membership; run import and recompute jobs beside."""
    from services.segments import (
        bootstrap,
        membership,  # noqa: F401 - registers its outbox intents
    )
    from services.segments.consumers import batch_handlers, handlers
    from services.segments.jobs import JobRunner

    parts = bootstrap.build(settings)
    parts.prepare_store()
    runner = JobRunner(parts)
    runner.start()

    def idle():
        # Kept events, then due intents: profile writes and membership changes (registered on import).
        parts.outbox.relay()

    try:
        batched = batch_handlers(parts) if settings.worker_batch_size > 1 else None
        run_worker(
            build_worker(
                settings,
                handlers(parts),
                name="segments",
                on_idle=idle,
                batch_handlers=batched,
                batch_size=settings.worker_batch_size,
                batch_wait=settings.worker_batch_wait,
            )
        )
    finally:
        runner.stop()
        runner.join(timeout=30)
        parts.close()


if __name__ == "__main__":
    main("segments", load, {"api": api, "worker": worker})
