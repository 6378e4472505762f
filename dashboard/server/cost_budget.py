"""CPU-second budgets: what each client address (and all together) spent on heavy answers, in
fixed windows read as a sliding window (the previous window's spending counts for the part of
it still inside the last window's length), so that no burst fits across a window boundary.

Kept in Redis when CAFCARTO_REDIS_URL is set (one budget across workers and hosts), else in
process memory. Like the rate limiter (dashboard.server.limits), a Redis outage falls back to
per-process counters instead of failing requests: after a failure this process skips Redis for
a pause, so an unreachable Redis costs one timeout per pause, not one per request.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, NamedTuple

from dashboard.server.limits import REDIS_TIMEOUTS, OutagePause

KEY_PREFIX = "cafcarto:cout:"


class Slot(NamedTuple):
    """One budget's counter in the current window: scope ("ip:<address>" or "total"), the
    window's number and its length."""

    scope: str
    index: int
    window_s: int

    @property
    def key(self) -> str:
        return f"{KEY_PREFIX}{self.scope}:{self.window_s}:{self.index}"

    @classmethod
    def now(cls, scope: str, window_s: int, now: float | None = None) -> Slot:
        now = time.time() if now is None else now
        return cls(scope, int(now // window_s), window_s)

    def seconds_left(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        return (self.index + 1) * self.window_s - now

    @property
    def previous(self) -> Slot:
        return Slot(self.scope, self.index - 1, self.window_s)

    def elapsed(self, now: float | None = None) -> float:
        """The part of the current window gone by, from 0 to 1."""
        # clamped: the window may end between the slot's making and this reading
        return min(1.0, max(0.0, 1.0 - self.seconds_left(now) / self.window_s))


def sliding(current: float, previous: float, elapsed: float) -> float:
    """The spending of the last window's length: the current window's, and the previous one's
    for the part of it still inside (spread evenly over its window)."""
    return previous * (1.0 - elapsed) + current


def wait_until_within(
    current: float, previous: float, room: float, slot: Slot, now: float | None = None
) -> float:
    """Seconds until the sliding spending is at most `room` again, if nothing more is spent."""
    room = max(room, 0.0)
    elapsed = slot.elapsed(now)
    if current <= room:
        if previous <= 0:
            return 0.0
        return max(0.0, (1.0 - (room - current) / previous) - elapsed) * slot.window_s
    # The current spending must first become the previous window's, then fade out enough.
    return slot.seconds_left(now) + (1.0 - room / current) * slot.window_s


def retry_after(seconds_left: float) -> int:
    """Whole seconds for the Retry-After header (at least 1)."""
    return max(1, math.ceil(seconds_left))


class MemoryBudgets:
    """Per-process spending: {slot key: (CPU seconds, end of the window)}."""

    def __init__(self) -> None:
        self._spent: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def spent(self, slots: list[Slot]) -> list[float]:
        with self._lock:
            return [self._spent.get(slot.key, (0.0, 0.0))[0] for slot in slots]

    def charge(self, slots: list[Slot], seconds: float) -> None:
        now = time.time()
        with self._lock:
            for key in [k for k, (_, end) in self._spent.items() if end <= now]:
                del self._spent[key]  # past windows: forgotten
            for slot in slots:
                spent = self._spent.get(slot.key, (0.0, 0.0))[0]
                # kept through the next window too: it is that window's "previous"
                end = now + slot.seconds_left(now) + slot.window_s
                self._spent[slot.key] = (spent + seconds, end)


class RedisBudgets:
    """Spending shared through Redis (INCRBYFLOAT on one key per slot, expiring with its
    window), with the per-process fallback during an outage."""

    def __init__(self, url: str, fallback: MemoryBudgets | None = None) -> None:
        self.url = url
        self.fallback = fallback or MemoryBudgets()
        self._client: Any = None
        self._outage = OutagePause("budgets de calcul")

    def _redis(self) -> Any | None:
        if self._outage.active():
            return None
        if self._client is None:
            import redis  # installed with the "redis" extra, as CAFCARTO_REDIS_URL needs

            self._client = redis.Redis.from_url(self.url, **REDIS_TIMEOUTS)
        return self._client

    def spent(self, slots: list[Slot]) -> list[float]:
        client = self._redis()
        if client is not None:
            try:
                values = client.mget([slot.key for slot in slots])
                return [float(v) if v is not None else 0.0 for v in values]
            except Exception:  # an outage must fall back, never fail the request
                self._outage.failed()
        return self.fallback.spent(slots)

    def charge(self, slots: list[Slot], seconds: float) -> None:
        client = self._redis()
        if client is not None:
            try:
                pipe = client.pipeline(transaction=False)
                for slot in slots:
                    pipe.incrbyfloat(slot.key, seconds)
                    pipe.expire(slot.key, 2 * slot.window_s + 1)
                pipe.execute()
                return
            except Exception:
                self._outage.failed()
        self.fallback.charge(slots, seconds)
