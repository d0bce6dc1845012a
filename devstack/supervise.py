"""The local run's supervisor: every part is a process it restarts when it dies.

A part that exits while the run is up is started again after a back-off
(``delay``, doubling up to 30 s, back to ``delay`` once the part has stayed up
a minute); each restart is logged to the run's output and counted. A part
that dies more than ``max_restarts`` times within ``window`` seconds stops
the run: ``KeepsDying`` carries the last lines of its log.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MAX_DELAY = 30.0
STABLE_AFTER = 60.0  # seconds up after which the back-off starts again from ``delay``


class KeepsDying(RuntimeError):
    """A part died too often: the run stops, showing the end of its log."""

    def __init__(self, part: Part, restarts: int, window: float):
        self.part = part
        super().__init__(
            f"{part.name} exited {restarts + 1} times within {window:.0f} s "
            f"(last exit code {part.proc.returncode}); last lines of {part.log_path}:\n"
            f"{tail(part.log_path)}"
        )


def tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Part:
    name: str
    argv: list
    env: dict
    log_path: Path
    cwd: Path
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0  # how many times this part was restarted in this run
    deaths: list = field(default_factory=list)  # when it died (monotonic), for the window
    due: float | None = None  # when a restart is scheduled
    delay: float = 0.0

    def start(self) -> subprocess.Popen:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.started_at = time.monotonic()
        return self.proc


class Supervisor:
    def __init__(
        self, say: Callable[[str], None], delay: float = 1.0, max_restarts: int = 5, window: float = 60.0
    ):
        self.say, self.base_delay, self.max_restarts, self.window = say, delay, max_restarts, window
        self.parts: list[Part] = []

    @classmethod
    def from_environ(cls, say, environ=os.environ) -> Supervisor:
        """``VINCULO_RUN_RESTART_DELAY`` (s, default 1) and ``VINCULO_RUN_MAX_RESTARTS`` (per minute, 5)."""
        return cls(
            say,
            delay=float(environ.get("VINCULO_RUN_RESTART_DELAY", "1")),
            max_restarts=int(environ.get("VINCULO_RUN_MAX_RESTARTS", "5")),
        )

    def add(self, name: str, argv: list, env: dict, log_path: Path, cwd: Path) -> Part:
        part = Part(name, list(argv), dict(env), Path(log_path), Path(cwd), delay=self.base_delay)
        part.start()
        self.parts.append(part)
        return part

    @property
    def processes(self) -> list[subprocess.Popen]:
        return [part.proc for part in self.parts if part.proc is not None]

    @property
    def restarts(self) -> int:
        return sum(part.restarts for part in self.parts)

    def tick(self) -> None:
        """Notice dead parts, schedule their restart, restart those due; raise KeepsDying."""
        now = time.monotonic()
        for part in self.parts:
            if part.due is None and part.proc.poll() is not None:
                part.deaths = [t for t in part.deaths if now - t < self.window] + [now]
                if len(part.deaths) > self.max_restarts:
                    raise KeepsDying(part, len(part.deaths) - 1, self.window)
                if now - part.started_at >= STABLE_AFTER:
                    part.delay = self.base_delay
                part.due = now + part.delay
                self.say(
                    f"{part.name} exited with code {part.proc.returncode}; restarting it in "
                    f"{part.delay:g} s (see {part.log_path})"
                )
                part.delay = min(part.delay * 2, MAX_DELAY)
            if part.due is not None and now >= part.due:
                part.due = None
                part.restarts += 1
                proc = part.start()
                self.say(
                    f"{part.name} restarted (pid {proc.pid}; restart {part.restarts} of this part, "
                    f"{self.restarts} in this run)"
                )

    def stop_all(self, stop: Callable[[subprocess.Popen], None]) -> None:
        for part in reversed(self.parts):
            part.due = None
            if part.proc is not None:
                stop(part.proc)
