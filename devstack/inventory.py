"""What services and parts exist, read from the code itself.

The deploy files, the generated docs and the reliability tests all iterate
over this, so a new service (a folder under ``services/`` with a
``__main__.py``) or a new part (a new choice of its entry point) shows up
everywhere without editing a list.

Parts are read from the entry point's own ``--help`` (argparse prints the
choices before any setting is loaded), so this needs no environment.
"""

from __future__ import annotations

import functools
import importlib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES_DIR = ROOT / "services"


def services() -> list[str]:
    """Service packages that can be run (``services/<name>/__main__.py``), sorted."""
    return sorted(path.parent.name for path in SERVICES_DIR.glob("*/__main__.py"))


@functools.cache
def parts(service: str) -> tuple[str, ...]:
    """The parts ``python -m services.<service>`` accepts, e.g. ("api", "worker")."""
    done = subprocess.run(
        [sys.executable, "-m", f"services.{service}", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"python -m services.{service} --help failed: {done.stderr[-1000:]}")
    match = re.search(r"\{([a-z_,]+)\}", done.stdout)
    if not match:
        raise RuntimeError(f"no parts in the usage of services.{service}: {done.stdout[:500]}")
    return tuple(match.group(1).split(","))


def settings_module(service: str):
    """``services.<service>.settings`` (with ``Settings``, ``PREFIX`` and ``load``)."""
    return importlib.import_module(f"services.{service}.settings")


def all_parts() -> list[tuple[str, str]]:
    """(service, part) for every part of every service."""
    return [(service, part) for service in services() for part in parts(service)]
