"""Fault points for crash tests: ``VINCULO_FAULT=<name>`` makes the process kill itself there.

A product path calls ``point("after_write")`` where a crash matters (between a
store write and the publish that announces it); a test starts a real process
with the variable set and finds out what the next process recovers. Unset
(always, outside tests) a point does nothing but read the environment.
"""

from __future__ import annotations

import os
import signal


def point(name: str) -> None:
    """SIGKILL this process when ``VINCULO_FAULT`` names this point: no cleanup, no goodbye."""
    if os.environ.get("VINCULO_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
