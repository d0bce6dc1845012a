"""What every benchmark prints about where it ran: figures without the machine
(and how loaded it was) mean little."""

from __future__ import annotations

import os
import platform


def machine() -> str:
    """CPUs and model, memory, Python, and the load average while measuring."""
    cpu = "?"
    mem_gib = 0.0
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "?")
        with open("/proc/meminfo") as info:
            mem_gib = (
                next((int(line.split()[1]) for line in info if line.startswith("MemTotal")), 0) / 1024**2
            )
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {mem_gib:.1f} GiB RAM, Python {platform.python_version()}, "
        f"load average {load:.1f}"
    )
