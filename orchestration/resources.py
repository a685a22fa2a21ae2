"""Resources: the DuckDB warehouse and the dbt CLI."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource
from pydantic import PrivateAttr

from orchestration.settings import DBT_PROJECT_DIR
from orchestration.warehouse_lock import WarehouseLock

# Every asset that writes the warehouse runs in this pool; dagster.yaml gives it one slot because
# DuckDB admits a single writing process (ARCHITECTURE.md, known traps). The run queue enforces it
# only for queued runs; the run lock below holds for every run, however it was started.
WAREHOUSE_POOL = "teiki_warehouse"


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file, owned by one run at a time.

    A run that uses it takes the warehouse's run lock before its first step and keeps it to its
    end, failed or not (orchestration/warehouse_lock.py): a second run, started by any path,
    waits up to ``run_lock_timeout_seconds`` (``runs.warehouse_lock_timeout_minutes``) and says
    whom it waits for. Every asset of WAREHOUSE_POOL requires this resource, dbt's included.
    Opening a connection waits out another process's DuckDB lock instead of failing (a reader
    outside Dagster).
    """

    path: str
    lock_timeout_seconds: float = 120.0
    run_lock_timeout_seconds: float = 3600.0
    _run_lock: WarehouseLock | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Once per run: the in-process executor (definitions.py) sets resources up once for all
        # its steps. A run's own dbt process does not touch this lock (DuckDB's is separate).
        run = context.run
        if run is not None and context.instance is not None:
            current = context.instance.get_run_by_id(run.run_id)
            if current is not None and current.is_finished:
                # The run is over: Dagster sets resources up again only to load its outputs
                # (`dagster job execute` does, after the last step), which writes nothing.
                # Waiting here would hold a finished run's process behind the next run.
                return
        lock = WarehouseLock(self.path)
        lock.acquire(run_id=run.run_id if run else "(no run)", job=run.job_name if run else None,
                     timeout=self.run_lock_timeout_seconds, log=context.log.info)
        self._run_lock = lock

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._run_lock is not None:
            self._run_lock.release()
            self._run_lock = None

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        con = _connect_waiting(self.path, read_only, self.lock_timeout_seconds)
        try:
            yield con
        finally:
            con.close()


def _connect_waiting(path: str, read_only: bool, timeout: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        try:
            return duckdb.connect(path, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def dbt_cli_resource() -> DbtCliResource:
    # The dbt next to this interpreter, so a venv's pytest or dagster works without the venv on PATH.
    local_dbt = Path(sys.executable).parent / "dbt"
    return DbtCliResource(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(local_dbt) if local_dbt.exists() else "dbt",
    )
