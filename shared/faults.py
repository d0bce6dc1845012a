"""Fault points for crash tests: ``VINCULO_FAULT=<name>`` makes the process kill itself there.

A product path calls ``point("after_write")`` where a crash matters (between a
store write and the publish that announces it); a test starts a real process
with the variable set and finds out what the next process recovers. Unset
(always, outside tests) a point does nothing but read the environment.

The points: ``after_intent`` (an outbox intent written, its state write not
done), ``after_write`` (a write done, its announcement not published: the
outbox's ``announce``, the mailer's delivery events, the campaigns scheduler's
campaign.due), ``after_erase`` (segments: a customer erased, nothing announced)
and ``after_publish`` (published, the write that records it not
done: the campaigns fan-out's checkpoint).
"""

from __future__ import annotations

import os
import signal


def point(name: str) -> None:
    """SIGKILL this process when ``VINCULO_FAULT`` names this point: no cleanup, no goodbye."""
    if os.environ.get("VINCULO_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
