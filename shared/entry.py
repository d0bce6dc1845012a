"""Entry points: ``python -m services.<name> api|worker|...`` runs one part.

Settings are loaded first; a missing or invalid variable prints one line
naming it and exits with status 2 before anything starts.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable

from shared import logs
from shared.settings import ConfigError

log = logging.getLogger(__name__)


def main(
    service: str,
    load_settings: Callable,
    parts: dict[str, Callable],
    argv=None,
    commands: dict[str, Callable] | None = None,
) -> None:
    """Run one part (a process a deployment keeps running: api, worker, ...) or, for
    ``commands``, an operator's one-off command (``retrain``): those are not parts, so
    ``--help`` (which devstack.inventory reads to find the parts) does not list them."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if commands and argv[:1] and argv[0] in commands:
        try:
            settings = load_settings()
        except ConfigError as exc:
            print(f"vinculo-{service}: configuration error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        logs.configure(f"{service}.{argv[0]}", settings.log_level)
        commands[argv[0]](settings, argv[1:])
        return
    parser = argparse.ArgumentParser(
        prog=f"python -m services.{service}", description=f"Run one part of the Vínculo {service} service."
    )
    parser.add_argument("part", choices=sorted(parts))
    args, rest = parser.parse_known_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"vinculo-{service}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    logs.configure(f"{service}.{args.part}", settings.log_level)
    if args.part == "api":
        _metrics_multiprocess_dir()
    elif getattr(settings, "metrics_port", 0):
        from shared import metrics

        metrics.serve(settings.metrics_port)
        log.info("metrics on :%d/metrics", settings.metrics_port)
    parts[args.part](settings, rest)


def _metrics_multiprocess_dir() -> None:
    """gunicorn forks several processes: let prometheus_client sum them.

    Must run before prometheus_client is imported (it reads the variable
    at import); the folder is removed when the gunicorn master exits.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    path = tempfile.mkdtemp(prefix="vinculo-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    master = os.getpid()
    atexit.register(lambda: os.getpid() == master and shutil.rmtree(path, ignore_errors=True))


def run_api(app_factory: Callable, settings) -> None:
    """Serve the Flask app with gunicorn (threads) on ``settings.bind``."""
    from gunicorn.app.base import BaseApplication

    bind = settings.bind
    options = {
        "bind": bind,
        "workers": settings.web_workers,
        "threads": settings.web_threads,
        "worker_class": "gthread",
        "accesslog": None,
        "timeout": 60,
        "graceful_timeout": 20,
        "child_exit": _mark_process_dead,
        # gunicorn 25.1+ opens a control socket under $HOME (the images' user has none) or
        # $XDG_RUNTIME_DIR, one path shared by every api on a machine; nothing here uses it.
        "control_socket_disable": True,
    }

    class Server(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return app_factory(settings)

    log.info("api listening on %s", bind)
    Server().run()


def _mark_process_dead(_server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def run_worker(worker) -> None:
    """Consume until SIGTERM or SIGINT, then finish the message in hand and stop."""

    def stop(_signum, _frame):
        worker.should_stop = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker %s consuming %s", worker.name, ", ".join(worker.handlers))
    worker.run()


def build_worker(
    settings,
    handlers: dict,
    name: str,
    on_idle: Callable | None = None,
    batch_handlers: dict | None = None,
    batch_size: int = 100,
    batch_wait: float = 0.005,
):
    """A Worker for ``handlers`` with the retry policy from settings (``batch_*``: see Worker)."""
    from shared.messaging.consumer import Worker
    from shared.messaging.publisher import connect
    from shared.messaging.topology import Topology

    return Worker(
        connect(settings.amqp_url),
        Topology(settings.broker_namespace),
        handlers,
        name=name,
        max_attempts=settings.worker_max_attempts,
        base_delay=settings.worker_retry_delay,
        max_delay=settings.worker_max_retry_delay,
        prefetch=settings.worker_prefetch,
        on_idle=on_idle,
        lag_every=settings.queue_lag_interval,
        batch_handlers=batch_handlers,
        batch_size=batch_size,
        batch_wait=batch_wait,
    )
