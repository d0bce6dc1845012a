"""The per-provider rate limit is shared through the store: two limiters
(two workers) together never exceed the limit in one second."""

from __future__ import annotations

from services.mailer.ratelimit import RateLimiter


class Clock:
    """A clock the limiter reads and its sleep advances (no real waiting)."""

    def __init__(self, now: float):
        self.now = now
        self.slept = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_two_workers_share_one_window_per_provider(mongo_uri):
    clock = Clock(1_800_000_000.25)
    a = RateLimiter("email", 5, clock=clock.time, sleep=clock.sleep)
    b = RateLimiter("email", 5, clock=clock.time, sleep=clock.sleep)
    sms = RateLimiter("sms", 1, clock=clock.time, sleep=clock.sleep)
    assert a.acquire(3) == 3
    assert b.acquire(3) == 2  # what is left of this second
    assert sms.acquire(4) == 1  # another provider, its own window
    assert not clock.slept
    assert a.acquire(2) == 2  # waits for the next second
    assert clock.slept == [0.75] and int(clock.now) == 1_800_000_001
    assert b.acquire(10) == 3
