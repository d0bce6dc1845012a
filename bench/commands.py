"""Run a service part with pymongo's command monitoring counting its store commands.

    python -m bench.commands COUNTS_FILE services.mailer worker

Registers a ``pymongo.monitoring.CommandListener`` before the part imports
anything, then runs the part as ``python -m services.mailer worker`` would.
The counts per command name ({"find": n, "update": n, ...}) are written to
COUNTS_FILE every half second and at exit, so a benchmark reads them before and
after its measured window: store commands per unit of work, a figure of the
design that does not depend on the store's speed (MONGO_STANDIN.md).
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import runpy
import sys
import threading

from pymongo import monitoring


class Counter(monitoring.CommandListener):
    def __init__(self):
        self.counts: collections.Counter = collections.Counter()
        self.lock = threading.Lock()

    def started(self, event):
        with self.lock:
            self.counts[event.command_name] += 1

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass

    def snapshot(self) -> dict:
        with self.lock:
            return dict(self.counts)


def read(path) -> dict:
    """The counts a part last wrote ({} before its first write)."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


# Connection upkeep, not work: left out of "commands per message".
UPKEEP = {
    "hello",
    "ismaster",
    "isMaster",
    "ping",
    "endSessions",
    "buildinfo",
    "buildInfo",
    "createIndexes",
    "listIndexes",
}


def work(before: dict, after: dict) -> dict:
    return {
        name: after.get(name, 0) - before.get(name, 0)
        for name in sorted(set(after) | set(before))
        if name not in UPKEEP and after.get(name, 0) - before.get(name, 0)
    }


def main() -> None:
    path, module, *args = sys.argv[1:]
    counter = Counter()
    monitoring.register(counter)

    def dump():
        tmp = f"{path}.tmp"
        with open(tmp, "w") as handle:
            json.dump(counter.snapshot(), handle)
        os.replace(tmp, path)

    def every_half_second():
        while True:
            threading.Event().wait(0.5)
            dump()

    threading.Thread(target=every_half_second, daemon=True).start()
    atexit.register(dump)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
