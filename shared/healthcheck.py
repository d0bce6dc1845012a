"""``python -m shared.healthcheck <service> <part>``: a container's health check.

The api is healthy when its /healthz answers 200 on its BIND port; a worker,
scheduler or poller when its metrics server (``VINCULO_<SERVICE>_METRICS_PORT``)
answers, which proves the process is up and not wedged in start-up. A part
without a metrics port has nothing to ask: its container lives as long as
the process does. Exit 0 healthy, 1 not (what Docker expects).
"""

from __future__ import annotations

import importlib
import sys
import urllib.request


def url_for(service: str, part: str, environ=None) -> str | None:
    settings = importlib.import_module(f"services.{service}.settings").load(environ)
    if part == "api":
        host, _, port = settings.bind.rpartition(":")
        host = "127.0.0.1" if host in ("", "0.0.0.0", "::", "[::]") else host
        return f"http://{host}:{port}/healthz"
    port = getattr(settings, "metrics_port", 0)
    return f"http://127.0.0.1:{port}/metrics" if port else None


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m shared.healthcheck <service> <part>", file=sys.stderr)
        return 2
    try:
        url = url_for(*argv)
        if url is None:
            return 0
        with urllib.request.urlopen(url, timeout=4) as response:  # noqa: S310 - loopback only
            return 0 if response.status == 200 else 1
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
