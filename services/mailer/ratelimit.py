"""A rate limit per provider that holds across every worker process.

A fixed one-second window per provider is one store document
(``provider``, ``second``) bumped with ``$inc`` and upsert; a worker asks for
``n`` sends at once and is granted what is left under the limit in this
second (one round trip per chunk, not per message), else it waits for the
next second. The unique (provider, second) key makes concurrent first
upserts safe: the loser retries as an update.
"""

from __future__ import annotations

import time

from pymongo.errors import DuplicateKeyError

from services.mailer.store import rates


class RateLimiter:
    def __init__(self, provider: str, per_second: int, clock=time.time, sleep=time.sleep):
        self.provider = provider
        self.per_second = per_second
        self.clock = clock
        self.sleep = sleep

    def acquire(self, wanted: int) -> int:
        """Block until at least one send is allowed; return how many (1..wanted)."""
        wanted = max(1, min(wanted, self.per_second))
        while True:
            now = self.clock()
            second = int(now)
            for _ in range(3):
                try:
                    count = rates.take_from_window(self.provider, second, wanted)
                    break
                except DuplicateKeyError:
                    continue
            else:
                raise RuntimeError("rate window upsert kept colliding")
            before = count - wanted
            granted = max(0, min(wanted, self.per_second - before))
            if granted:
                return granted
            self.sleep(max(0.001, second + 1 - self.clock()))
