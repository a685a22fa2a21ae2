"""One way to keep Python's cycle collector out of a burst of allocations.

Building hundreds of thousands of small objects with no cycles (a day's campaign decisions, the
on-site offers of an eligibility file) makes the collector walk every live object at each burst,
holding the interpreter lock for tens of milliseconds each time. Reference counting frees such
objects anyway; the collector is paused for the burst and restored after.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cycle_collector_paused(freeze: bool = False) -> Iterator[None]:
    """Pause the cycle collector; with `freeze`, move what was built out of every later
    collection (gc.freeze) for objects that live long (a service's loaded data)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if was_enabled:
            gc.enable()
