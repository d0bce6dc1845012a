"""``python -m shared.healthcheck <service> [<part>]``: a container's health check.

One image runs every part of its service, so the image's HEALTHCHECK names
only the service: the part is the one the container is running, read from
the processes it can see (``python -m services.<service> <part>``). Naming
the part checks that one instead (an override, e.g. in a compose file).

The api is healthy when its /healthz answers 200 on its BIND port; a worker,
scheduler or poller when its metrics server (``VINCULO_<SERVICE>_METRICS_PORT``)
answers, which proves the process is up and not wedged in start-up. A part
without a metrics port is healthy while its process runs. No part of the
service running is unhealthy. Exit 0 healthy, 1 not (what Docker expects).
"""

from __future__ import annotations

import importlib
import sys
import urllib.request
from pathlib import Path


def url_for(service: str, part: str, environ=None) -> str | None:
    settings = importlib.import_module(f"services.{service}.settings").load(environ)
    if part == "api":
        host, _, port = settings.bind.rpartition(":")
        host = "127.0.0.1" if host in ("", "0.0.0.0", "::", "[::]") else host
        return f"http://{host}:{port}/healthz"
    port = getattr(settings, "metrics_port", 0)
    return f"http://127.0.0.1:{port}/metrics" if port else None


def running_parts(service: str, proc: Path = Path("/proc")) -> set[str]:
    """The parts of ``service`` whose processes run here (``python -m services.<service> <part>``)."""
    found = set()
    module = f"services.{service}"
    for cmdline in proc.glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:  # the process ended while we looked
            continue
        for i, arg in enumerate(argv[:-2]):
            if arg == "-m" and argv[i + 1] == module and argv[i + 2]:
                found.add(argv[i + 2])
    return found


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (1, 2):
        print("usage: python -m shared.healthcheck <service> [<part>]", file=sys.stderr)
        return 2
    service = argv[0]
    try:
        if len(argv) == 2:
            part = argv[1]
        else:
            parts = running_parts(service)
            if len(parts) != 1:
                print(
                    f"unhealthy: {'no part' if not parts else 'several parts'} of {service} running "
                    f"({', '.join(sorted(parts))}); name the part: python -m shared.healthcheck "
                    f"{service} <part>",
                    file=sys.stderr,
                )
                return 1
            part = parts.pop()
        url = url_for(service, part)
        if url is None:
            return 0
        with urllib.request.urlopen(url, timeout=4) as response:  # noqa: S310 - loopback only
            return 0 if response.status == 200 else 1
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
