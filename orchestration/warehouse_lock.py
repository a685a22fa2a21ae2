"""One run at a time writes the warehouse, whatever started it: a lock file beside the DuckDB file.

DuckDB admits one writing process per file, and the Dagster run queue (dagster_home/dagster.yaml,
the `teiki_warehouse` pool with run granularity) keeps two queued runs apart. But `dagster job
execute`, `make demo` (orchestration/demo.py) or a second `dagster dev` start runs without that
queue: two such runs then interleave step by step, each step waiting on DuckDB's file lock, so
both load the raw tables, one dbt step waits for the other's, and the call list is written twice.

So every run that opens the warehouse takes this lock first and keeps it to its end
(`WarehouseResource.setup_for_execution` / `teardown_after_execution` in resources.py: Dagster
sets a run's resources up once, before its first step, and tears them down after its last one,
also when a step fails). It is an ``flock`` on ``<warehouse>.run.lock``:

- a killed run (SIGKILL, a crashed machine's process) releases it with its process: nothing
  stale to clean up, unlike a pid file or a claimed pool slot;
- it is not DuckDB's own lock (that one is on the warehouse file itself), so the dbt process a
  run starts opens the warehouse as before: the run holds this lock, dbt holds DuckDB's;
- the file descriptor is not inherited by child processes (Python opens it close-on-exec), so
  a dbt process that outlives its run cannot keep the warehouse locked.

The holder writes who it is into the file (run id, job, pid, since when); a run that finds the
lock taken says whom it waits for, keeps waiting up to `runs.warehouse_lock_timeout_minutes`
(the merchant settings file), then fails saying who still holds it. It never starts writing
while another run does.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

LOCK_SUFFIX = ".run.lock"
TIMEOUT_SETTING = "runs.warehouse_lock_timeout_minutes"
# How often a waiting run tries again, and how often it repeats that it is still waiting.
POLL_SECONDS = 0.2
REMIND_SECONDS = 600.0


class WarehouseBusy(RuntimeError):
    """Another run held the warehouse for longer than this run may wait."""


@dataclass(frozen=True)
class Holder:
    """Who holds the warehouse, as the holder wrote it into the lock file."""

    run_id: str
    job: str | None
    pid: int
    since: str  # ISO 8601, UTC

    def describe(self) -> str:
        job = f" ({self.job})" if self.job else ""
        return f"run {self.run_id}{job} / pid {self.pid} holding the warehouse since {self.since}"


def lock_path(warehouse: str | Path) -> Path:
    return Path(f"{warehouse}{LOCK_SUFFIX}")


def read_holder(path: Path) -> Holder | None:
    """The holder the lock file names; None when it is empty (free, or being taken) or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "null")
        return Holder(str(data["run_id"]), data.get("job"), int(data["pid"]), str(data["since"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


class WarehouseLock:
    """The run lock of one warehouse file; :meth:`acquire` once per run, :meth:`release` at its end."""

    def __init__(self, warehouse: str | Path) -> None:
        self.warehouse = Path(warehouse)
        self.path = lock_path(warehouse)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, *, run_id: str, job: str | None, timeout: float, log: Callable[[str], None],
                clock: Callable[[], float] = time.monotonic,
                sleep: Callable[[float], None] = time.sleep) -> float:
        """Take the lock, waiting up to ``timeout`` seconds; the seconds waited. Raises
        :class:`WarehouseBusy` naming the holder when the wait runs out."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path}: this run already holds the warehouse lock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        started = clock()
        said: tuple[Holder | None, float] | None = None  # whom we last said we wait for, and when
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    pass
                waited = clock() - started
                holder = read_holder(self.path)
                if said is None or holder != said[0] or clock() - said[1] >= REMIND_SECONDS:
                    who = holder.describe() if holder else "another run holding the warehouse (not yet named)"
                    log(f"waiting for {who}; waited {waited:.0f} s of at most {timeout:.0f} s "
                        f"({TIMEOUT_SETTING})")
                    said = (holder, clock())
                if waited >= timeout:
                    who = holder.describe() if holder else "another run"
                    raise WarehouseBusy(
                        f"the warehouse {self.warehouse} is still held by {who} "
                        f"after waiting {waited:.0f} s ({TIMEOUT_SETTING} = {timeout / 60:g}); this run "
                        f"wrote nothing. Let that run finish, or stop it, then start this one again.")
                sleep(POLL_SECONDS)
        except BaseException:
            os.close(fd)
            raise
        since = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        record = json.dumps({"run_id": run_id, "job": job, "pid": os.getpid(), "since": since})
        os.ftruncate(fd, 0)
        os.pwrite(fd, record.encode("utf-8"), 0)
        self._fd = fd
        waited = clock() - started
        if said is not None:
            log(f"took the warehouse after waiting {waited:.1f} s")
        return waited

    def release(self) -> None:
        """Give the lock up (idempotent). The holder's record is cleared first, so nobody reads a
        finished run as the holder."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
