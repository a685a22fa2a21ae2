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
    """At most one request every ``seconds`` on average, never a burst.

    Requests are given slots ``seconds`` apart: a caller that has to wait sleeps until its slot,
    and the next slot is counted from that slot, not from when the sleep returned. A sleep
    overshoots its deadline (timer slack, a busy CPU: 0.05-1 ms), and counting from the wake-up
    added each overshoot to every interval (at 2,000/s the pace fell to about 0.64 of the
    limit). A caller arriving after its slot goes at once and the next slot is counted from
    then, so an idle spell never earns a catch-up burst."""

    def __init__(self, seconds: float, **kw: Any) -> None:
        super().__init__(**kw)
        self.seconds = float(seconds)
        self._next: float | None = None  # the earliest time the next request may go

    def acquire(self, cost: float = 1.0) -> float:
        with self._lock:
            now = self.clock()
            if self._next is None or now >= self._next:
                self._next = now + self.seconds
                return 0.0
            waited = self._wait(self._next - now)
            self._next += self.seconds
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
