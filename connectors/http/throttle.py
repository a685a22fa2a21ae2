"""Client-side throttles: wait *before* a request so the provider rarely has to say no.

Each throttle has ``acquire(cost=1.0) -> seconds waited`` (called by the client before every
attempt) and ``observe(response)`` (called after every response; a hook for throttles that read
the provider's headers). Clock and sleep are injectable so tests run fast::

    LeakyBucket(capacity=40, leak_per_second=2)    # Recharge-style: 40-call bucket, 2/s leak
    MinInterval(0.5)                               # at most one request every 0.5 s
    CostBasedThrottle(maximum=1000, restore_rate=50)
        # Shopify GraphQL: feed it each response's extensions.cost.throttleStatus via
        # .update(currently_available, maximum, restore_rate); acquire(cost) waits until the
        # estimated budget covers the query's requested cost.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Protocol

__all__ = ["CostBasedThrottle", "LeakyBucket", "MinInterval", "Throttle"]


class Throttle(Protocol):
    def acquire(self, cost: float = 1.0) -> float: ...

    def observe(self, response: Any) -> None: ...


class _Base:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self.waited = 0.0  # total seconds this throttle made callers wait

    def observe(self, response: Any) -> None:
        pass

    def _wait(self, seconds: float) -> float:
        if seconds > 0:
            self.sleep(seconds)
            self.waited += seconds
            return seconds
        return 0.0


class LeakyBucket(_Base):
    """A bucket of ``capacity`` units leaking ``leak_per_second``; a request adds ``cost`` units
    and waits until it fits. :meth:`sync` aligns the level with what the provider reports (e.g. a
    ``X-...-Limit: used/capacity`` header)."""

    def __init__(self, capacity: float, leak_per_second: float, **kw: Any) -> None:
        super().__init__(**kw)
        if capacity <= 0 or leak_per_second <= 0:
            raise ValueError("LeakyBucket: capacity and leak_per_second must be positive")
        self.capacity = float(capacity)
        self.leak_per_second = float(leak_per_second)
        self.level = 0.0
        self._t = self.clock()

    def _leak(self) -> None:
        now = self.clock()
        self.level = max(0.0, self.level - (now - self._t) * self.leak_per_second)
        self._t = now

    def acquire(self, cost: float = 1.0) -> float:
        cost = min(float(cost), self.capacity)
        with self._lock:
            self._leak()
            wait = max(0.0, (self.level + cost - self.capacity) / self.leak_per_second)
            waited = self._wait(wait)
            self._leak()
            self.level = min(self.capacity, self.level + cost)
            return waited

    def sync(self, used: float, capacity: float | None = None) -> None:
        with self._lock:
            if capacity:
                self.capacity = float(capacity)
            self._t = self.clock()
            self.level = max(0.0, min(self.capacity, float(used)))


class MinInterval(_Base):
    """At most one request every ``seconds``."""

    def __init__(self, seconds: float, **kw: Any) -> None:
        super().__init__(**kw)
        self.seconds = float(seconds)
        self._last: float | None = None

    def acquire(self, cost: float = 1.0) -> float:
        with self._lock:
            now = self.clock()
            waited = 0.0
            if self._last is not None:
                waited = self._wait(self._last + self.seconds - now)
            self._last = self.clock()
            return waited


class CostBasedThrottle(_Base):
    """A point budget restored at ``restore_rate`` per second up to ``maximum`` (Shopify GraphQL
    Admin API: 1000 points, 50/s on standard plans). The provider's own figures win: call
    :meth:`update` with every response's reported status. Between reports the budget is
    estimated by subtracting each request's cost and adding the restore since."""

    def __init__(self, maximum: float = 1000.0, restore_rate: float = 50.0, **kw: Any) -> None:
        super().__init__(**kw)
        self.maximum = float(maximum)
        self.restore_rate = float(restore_rate)
        self.available = float(maximum)
        self._t = self.clock()

    def _restore(self) -> None:
        now = self.clock()
        self.available = min(self.maximum, self.available + (now - self._t) * self.restore_rate)
        self._t = now

    def acquire(self, cost: float = 1.0) -> float:
        cost = min(float(cost), self.maximum)
        with self._lock:
            self._restore()
            wait = max(0.0, (cost - self.available) / self.restore_rate)
            waited = self._wait(wait)
            self._restore()
            self.available -= cost
            return waited

    def update(
        self,
        currently_available: float,
        maximum: float | None = None,
        restore_rate: float | None = None,
    ) -> None:
        """Set the budget from the provider's report (after the request it describes)."""
        with self._lock:
            if maximum:
                self.maximum = float(maximum)
            if restore_rate:
                self.restore_rate = float(restore_rate)
            self.available = min(self.maximum, float(currently_available))
            self._t = self.clock()
